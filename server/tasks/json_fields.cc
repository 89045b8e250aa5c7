#include "server/tasks/json_fields.h"

#include "absl/strings/str_cat.h"

namespace prunegate::tasks {
namespace {

std::optional<std::string> AsId(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return value.dump();
  return std::nullopt;
}

}  // namespace

std::string TypeName(const Json& value) { return value.type_name(); }

std::string FieldReader::Name(const std::string& key) const {
  return prefix_.empty() ? key : absl::StrCat(prefix_, ".", key);
}

absl::Status FieldReader::FieldError(const std::string& key, const std::string& what) const {
  return absl::InvalidArgumentError(absl::StrCat("field \"", Name(key), "\": ", what));
}

const Json* FieldReader::Find(const std::string& key) {
  used_.insert(key);
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<std::optional<std::string>> FieldReader::OptionalString(const std::string& key) {
  const Json* value = Find(key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) {
    return FieldError(key, absl::StrCat("expected a string, got ", TypeName(*value)));
  }
  return std::optional<std::string>(value->get<std::string>());
}

absl::StatusOr<std::string> FieldReader::String(const std::string& key) {
  absl::StatusOr<std::optional<std::string>> value = OptionalString(key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("missing field \"", Name(key), "\""));
  }
  return **value;
}

absl::StatusOr<std::string> FieldReader::Id(const std::string& key) {
  const Json* value = Find(key);
  if (value == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("missing field \"", Name(key), "\""));
  }
  std::optional<std::string> id = AsId(*value);
  if (!id) {
    return FieldError(key, absl::StrCat("expected a string or integer id, got ", TypeName(*value)));
  }
  if (id->empty()) return FieldError(key, "empty id");
  return *id;
}

absl::StatusOr<std::optional<int64_t>> FieldReader::OptionalInt(const std::string& key) {
  const Json* value = Find(key);
  if (value == nullptr) return std::optional<int64_t>();
  if (!value->is_number_integer()) {
    return FieldError(
        key, absl::StrCat("expected an integer, got ", TypeName(*value), " ", value->dump()));
  }
  if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) {
    return FieldError(key, absl::StrCat(value->dump(), " is too large"));
  }
  const int64_t v = value->get<int64_t>();
  if (v < INT32_MIN || v > INT32_MAX) return FieldError(key, absl::StrCat(v, " is too large"));
  return std::optional<int64_t>(v);
}

absl::StatusOr<const Json*> FieldReader::Array(const std::string& key) {
  const Json* value = Find(key);
  if (value == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("missing field \"", Name(key), "\""));
  }
  if (!value->is_array()) {
    return FieldError(key, absl::StrCat("expected an array, got ", TypeName(*value)));
  }
  return value;
}

absl::StatusOr<std::vector<std::string>> FieldReader::StringArray(const std::string& key) {
  absl::StatusOr<const Json*> array = Array(key);
  if (!array.ok()) return array.status();
  std::vector<std::string> out;
  for (size_t i = 0; i < (*array)->size(); ++i) {
    const Json& element = (**array)[i];
    if (!element.is_string()) {
      return FieldError(
          key, absl::StrCat("element ", i, ": expected a string, got ", TypeName(element)));
    }
    out.push_back(element.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> FieldReader::IdArray(const std::string& key) {
  absl::StatusOr<const Json*> array = Array(key);
  if (!array.ok()) return array.status();
  std::vector<std::string> out;
  for (size_t i = 0; i < (*array)->size(); ++i) {
    const Json& element = (**array)[i];
    std::optional<std::string> id = AsId(element);
    if (!id) {
      return FieldError(key, absl::StrCat("element ", i, ": expected a string or integer id, got ",
                                          TypeName(element)));
    }
    out.push_back(*id);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> FieldReader::Meta(const std::string& key) {
  std::map<std::string, std::string> out;
  const Json* value = Find(key);
  if (value == nullptr) return out;
  if (!value->is_object()) {
    return FieldError(key, absl::StrCat("expected an object, got ", TypeName(*value)));
  }
  for (auto it = value->begin(); it != value->end(); ++it) {
    if (it->is_string()) {
      out[it.key()] = it->get<std::string>();
    } else if (it->is_number() || it->is_boolean()) {
      out[it.key()] = it->dump();
    } else {
      return FieldError(
          key, absl::StrCat("member \"", it.key(), "\": expected a string, number or boolean, got ",
                            TypeName(*it)));
    }
  }
  return out;
}

absl::Status FieldReader::CheckNoUnknownFields() const {
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    if (used_.count(it.key()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown field \"", Name(it.key()), "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace prunegate::tasks
