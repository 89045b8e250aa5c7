// Typed access to the members of one JSON object of a task file, with messages that name the
// field ("field \"label\": expected an integer, got string"). Tracks which members were read so
// unknown (misspelt) fields can be reported. Internal to the task parser.
#ifndef PRUNEGATE_SERVER_TASKS_JSON_FIELDS_H_
#define PRUNEGATE_SERVER_TASKS_JSON_FIELDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace prunegate::tasks {

using Json = nlohmann::json;

class FieldReader {
 public:
  // `obj` must be an object and outlive the reader. `prefix` ("" or "queries[2]") goes before
  // field names in messages.
  FieldReader(const Json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  // Required / optional string members; a null member counts as absent.
  absl::StatusOr<std::string> String(const std::string& key);
  absl::StatusOr<std::optional<std::string>> OptionalString(const std::string& key);
  // An id: a string, or an integer written as its decimal string.
  absl::StatusOr<std::string> Id(const std::string& key);
  absl::StatusOr<std::optional<int64_t>> OptionalInt(const std::string& key);
  // A required array of strings.
  absl::StatusOr<std::vector<std::string>> StringArray(const std::string& key);
  // A required array of ids (strings or integers).
  absl::StatusOr<std::vector<std::string>> IdArray(const std::string& key);
  // A required array (of anything); the caller reads the elements.
  absl::StatusOr<const Json*> Array(const std::string& key);
  // An optional object of scalar values (strings, numbers, booleans), as strings.
  absl::StatusOr<std::map<std::string, std::string>> Meta(const std::string& key);
  // Marks `key` as known without reading it.
  void Skip(const std::string& key) { used_.insert(key); }
  // INVALID_ARGUMENT naming the first member that no accessor read.
  absl::Status CheckNoUnknownFields() const;

  // "field \"<prefix.key>\": <what>" as INVALID_ARGUMENT.
  absl::Status FieldError(const std::string& key, const std::string& what) const;

 private:
  const Json* Find(const std::string& key);
  std::string Name(const std::string& key) const;

  const Json& obj_;
  std::string prefix_;
  std::set<std::string> used_;
};

// "string", "number", ... as nlohmann names them.
std::string TypeName(const Json& value);

}  // namespace prunegate::tasks

#endif  // PRUNEGATE_SERVER_TASKS_JSON_FIELDS_H_
