// Options shared by the Metaspace pre-tokenizer and the Metaspace decoder. Internal.
#ifndef PRUNEGATE_SERVER_MODEL_HF_METASPACE_H_
#define PRUNEGATE_SERVER_MODEL_HF_METASPACE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/model/hf_json.h"

namespace prunegate::hf {

enum class PrependScheme { kAlways, kFirst, kNever };

struct MetaspaceOptions {
  std::string replacement = "\xE2\x96\x81";  // "▁", one character
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;
};

// Reads `replacement` (one character), `prepend_scheme` ("always"/"first"/"never") or the legacy
// `add_prefix_space` (true -> always, false -> never; contradicting prepend_scheme is an error),
// and `split` (default true).
absl::StatusOr<MetaspaceOptions> ParseMetaspaceOptions(const Json& value, std::string_view path,
                                                       const JsonFile& file);

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_METASPACE_H_
