#include "server/model/hf_pattern.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"

namespace prunegate::hf {

absl::StatusOr<Pattern> Pattern::Parse(const Json& value, std::string_view path,
                                       const JsonFile& file) {
  PG_RETURN_IF_ERROR(RequireObject(value, path, file));
  Pattern pattern;
  if (FindMember(value, "Regex") != nullptr) {
    PG_ASSIGN_OR_RETURN(std::string regex, GetString(value, "Regex", path, file));
    auto compiled = UnicodeRegex::Compile(regex);
    if (!compiled.ok())
      return file.Error(FieldPath(path, "Regex"), std::string(compiled.status().message()));
    pattern.regex_ = std::move(compiled).value();
    return pattern;
  }
  if (FindMember(value, "String") != nullptr) {
    PG_ASSIGN_OR_RETURN(pattern.literal_, GetString(value, "String", path, file));
    if (pattern.literal_.empty()) return file.Error(FieldPath(path, "String"), "must not be empty");
    return pattern;
  }
  return file.Error(path, "expected {\"String\": ...} or {\"Regex\": ...}");
}

absl::StatusOr<std::vector<std::pair<size_t, size_t>>> Pattern::FindAll(
    std::string_view text) const {
  if (regex_ != nullptr) return regex_->FindAll(text);
  std::vector<std::pair<size_t, size_t>> matches;
  size_t pos = 0;
  while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
    matches.emplace_back(pos, pos + literal_.size());
    pos += literal_.size();
  }
  return matches;
}

absl::StatusOr<std::string> Pattern::ReplaceAll(std::string_view text,
                                                std::string_view content) const {
  PG_ASSIGN_OR_RETURN(auto matches, FindAll(text));
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t prev = 0;
  for (const auto& [begin, end] : matches) {
    out.append(text.substr(prev, begin - prev));
    out.append(content);
    prev = end;
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace prunegate::hf
