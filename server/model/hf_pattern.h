// A tokenizer.json `pattern`: {"String": "literal"} or {"Regex": "oniguruma pattern"}, as used by
// the Replace normalizer, the Split pre-tokenizer and the Replace decoder. Internal.
#ifndef PRUNEGATE_SERVER_MODEL_HF_PATTERN_H_
#define PRUNEGATE_SERVER_MODEL_HF_PATTERN_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/hf_json.h"
#include "server/model/unicode_regex.h"

namespace prunegate::hf {

class Pattern {
 public:
  // `value` is the pattern object at `path`. INVALID_ARGUMENT for a bad shape, an empty literal,
  // or a regex that does not compile (the message quotes the pattern).
  static absl::StatusOr<Pattern> Parse(const Json& value, std::string_view path,
                                       const JsonFile& file);

  // Non-overlapping matches, leftmost first, as [begin, end) byte ranges.
  absl::StatusOr<std::vector<std::pair<size_t, size_t>>> FindAll(std::string_view text) const;
  // `text` with every match replaced by `content`.
  absl::StatusOr<std::string> ReplaceAll(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;                  // used when regex_ is null
  std::shared_ptr<UnicodeRegex> regex_;  // shared so Pattern is copyable
};

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_PATTERN_H_
