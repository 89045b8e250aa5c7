#include "server/model/hf_json.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"

namespace prunegate::hf {

// Debian's Abseil has its own absl::string_view (no std::string_view interop), hence plain
// std::string concatenation here rather than absl::StrCat.
absl::Status JsonFile::Error(std::string_view path, std::string_view what) const {
  std::string message = name;
  message += ": ";
  if (!path.empty()) {
    message += path;
    message += ": ";
  }
  message += what;
  return absl::InvalidArgumentError(message);
}

std::string FieldPath(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty()) path += ".";
  path += key;
  return path;
}

std::string IndexPath(std::string_view parent, size_t index) {
  std::string path(parent);
  path += "[" + std::to_string(index) + "]";
  return path;
}

std::string JsonTypeName(const Json& value) { return value.type_name(); }

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  if (std::filesystem::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, expected a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InternalError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read failed"));
  return buffer.str();
}

absl::StatusOr<Json> ParseJson(std::string_view text, const JsonFile& file) {
  Json parsed = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // Re-run with exceptions only to get the parser's position message; nothing escapes.
    std::string detail = "syntax error";
    try {
      [[maybe_unused]] Json unused = Json::parse(text.begin(), text.end());
    } catch (const Json::exception& e) {
      detail = e.what();
    }
    return file.Error("", absl::StrCat("not valid JSON (", detail, ")"));
  }
  return parsed;
}

const Json* FindMember(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<const Json*> RequireMember(const Json& obj, std::string_view key,
                                          std::string_view path, const JsonFile& file) {
  const Json* member = FindMember(obj, key);
  if (member == nullptr) return file.Error(FieldPath(path, key), "missing");
  return member;
}

absl::Status RequireObject(const Json& value, std::string_view path, const JsonFile& file) {
  if (!value.is_object()) {
    return file.Error(path, absl::StrCat("expected an object, got ", JsonTypeName(value)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const Json& obj, std::string_view key, std::string_view path,
                                      const JsonFile& file) {
  PG_ASSIGN_OR_RETURN(const Json* member, RequireMember(obj, key, path, file));
  if (!member->is_string()) {
    return file.Error(FieldPath(path, key),
                      absl::StrCat("expected a string, got ", JsonTypeName(*member)));
  }
  return member->get<std::string>();
}

absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& obj, std::string_view key,
                                                             std::string_view path,
                                                             const JsonFile& file) {
  if (FindMember(obj, key) == nullptr) return std::optional<std::string>();
  PG_ASSIGN_OR_RETURN(std::string value, GetString(obj, key, path, file));
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<bool> GetBool(const Json& obj, std::string_view key, bool default_value,
                             std::string_view path, const JsonFile& file) {
  PG_ASSIGN_OR_RETURN(std::optional<bool> value, GetOptionalBool(obj, key, path, file));
  return value.value_or(default_value);
}

absl::StatusOr<std::optional<bool>> GetOptionalBool(const Json& obj, std::string_view key,
                                                    std::string_view path, const JsonFile& file) {
  const Json* member = FindMember(obj, key);
  if (member == nullptr) return std::optional<bool>();
  if (!member->is_boolean()) {
    return file.Error(FieldPath(path, key),
                      absl::StrCat("expected true or false, got ", JsonTypeName(*member)));
  }
  return std::optional<bool>(member->get<bool>());
}

absl::StatusOr<int64_t> GetInt(const Json& obj, std::string_view key, std::string_view path,
                               const JsonFile& file) {
  PG_ASSIGN_OR_RETURN(const Json* member, RequireMember(obj, key, path, file));
  if (member->is_number_integer()) {
    if (member->is_number_unsigned() &&
        member->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return file.Error(FieldPath(path, key), "integer out of range");
    }
    return member->get<int64_t>();
  }
  return file.Error(FieldPath(path, key),
                    absl::StrCat("expected an integer, got ", JsonTypeName(*member)));
}

absl::StatusOr<std::string> GetType(const Json& obj, std::string_view path, const JsonFile& file) {
  PG_RETURN_IF_ERROR(RequireObject(obj, path, file));
  return GetString(obj, "type", path, file);
}

}  // namespace prunegate::hf
