#include "server/model/hf_metaspace.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/utf8.h"

namespace prunegate::hf {

absl::StatusOr<MetaspaceOptions> ParseMetaspaceOptions(const Json& value, std::string_view path,
                                                       const JsonFile& file) {
  MetaspaceOptions options;
  PG_ASSIGN_OR_RETURN(options.replacement, GetString(value, "replacement", path, file));
  if (options.replacement.empty() ||
      utf8::CharLength(options.replacement, 0) != options.replacement.size()) {
    return file.Error(
        FieldPath(path, "replacement"),
        absl::StrCat("must be exactly one character, got \"", options.replacement, "\""));
  }
  PG_ASSIGN_OR_RETURN(std::optional<std::string> scheme,
                      GetOptionalString(value, "prepend_scheme", path, file));
  PG_ASSIGN_OR_RETURN(std::optional<bool> add_prefix_space,
                      GetOptionalBool(value, "add_prefix_space", path, file));
  if (scheme) {
    if (*scheme == "always") {
      options.prepend_scheme = PrependScheme::kAlways;
    } else if (*scheme == "first") {
      options.prepend_scheme = PrependScheme::kFirst;
    } else if (*scheme == "never") {
      options.prepend_scheme = PrependScheme::kNever;
    } else {
      return file.Error(
          FieldPath(path, "prepend_scheme"),
          absl::StrCat("unknown scheme \"", *scheme, "\" (expected always, first or never)"));
    }
  }
  if (add_prefix_space.has_value() && !*add_prefix_space) {
    if (scheme && options.prepend_scheme != PrependScheme::kNever) {
      return file.Error(FieldPath(path, "add_prefix_space"),
                        "false contradicts prepend_scheme \"" + *scheme + "\"");
    }
    options.prepend_scheme = PrependScheme::kNever;
  }
  PG_ASSIGN_OR_RETURN(options.split, GetBool(value, "split", true, path, file));
  return options;
}

}  // namespace prunegate::hf
