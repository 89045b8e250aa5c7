// JSON field access for tokenizer files with errors that name the file and the field path
// ("/m/tokenizer.json: model.merges[3]: ..."). Internal to the tokenizer implementation.
#ifndef PRUNEGATE_SERVER_MODEL_HF_JSON_H_
#define PRUNEGATE_SERVER_MODEL_HF_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace prunegate::hf {

using Json = nlohmann::json;

// The file being parsed; every error it makes is INVALID_ARGUMENT "<file>: <path>: <what>".
struct JsonFile {
  std::string name;
  absl::Status Error(std::string_view path, std::string_view what) const;
};

// "a.b" / "a[3]" path builders (an empty parent gives just the key).
std::string FieldPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);
// "string", "object", ... for messages.
std::string JsonTypeName(const Json& value);

// Reads a whole file. NOT_FOUND when it does not exist, INVALID_ARGUMENT for a directory,
// INTERNAL for other I/O failures; messages name the path.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Parses a whole file's text; INVALID_ARGUMENT "<file>: not valid JSON: ..." on failure.
absl::StatusOr<Json> ParseJson(std::string_view text, const JsonFile& file);

// `obj` must be an object (the caller checked). Absent and null members are "missing".
const Json* FindMember(const Json& obj, std::string_view key);
absl::StatusOr<const Json*> RequireMember(const Json& obj, std::string_view key,
                                          std::string_view path, const JsonFile& file);
absl::Status RequireObject(const Json& value, std::string_view path, const JsonFile& file);
absl::StatusOr<std::string> GetString(const Json& obj, std::string_view key, std::string_view path,
                                      const JsonFile& file);
absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& obj, std::string_view key,
                                                             std::string_view path,
                                                             const JsonFile& file);
absl::StatusOr<bool> GetBool(const Json& obj, std::string_view key, bool default_value,
                             std::string_view path, const JsonFile& file);
absl::StatusOr<std::optional<bool>> GetOptionalBool(const Json& obj, std::string_view key,
                                                    std::string_view path, const JsonFile& file);
absl::StatusOr<int64_t> GetInt(const Json& obj, std::string_view key, std::string_view path,
                               const JsonFile& file);
// A `type` member naming the component ("BPE", "Sequence", ...).
absl::StatusOr<std::string> GetType(const Json& obj, std::string_view path, const JsonFile& file);

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_JSON_H_
