// tokenizer.json `pre_tokenizer`: null, Sequence, Split, ByteLevel, Metaspace, Digits. A
// pre-tokenizer cuts normalized text into pieces that the BPE model encodes independently.
// Internal.
#ifndef PRUNEGATE_SERVER_MODEL_HF_PRE_TOKENIZER_H_
#define PRUNEGATE_SERVER_MODEL_HF_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/hf_json.h"

namespace prunegate::hf {

struct Piece {
  std::string text;
  // The piece begins at offset 0 of the text being encoded (Metaspace prepend_scheme "first"
  // prepends only there, so not after an added token).
  bool at_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual absl::Status PreTokenize(std::vector<Piece>* pieces) const = 0;
};

// Hugging Face's SplitDelimiterBehavior.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Cuts [0, text_size) at `matches` (sorted, non-overlapping [begin, end) ranges) per `behavior`
// (with `invert`, non-matches play the role of matches) and returns the non-empty pieces.
std::vector<std::pair<size_t, size_t>> SplitRanges(
    size_t text_size, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
    bool invert);

// Parses the pre-tokenizer at `path`; a null value gives nullptr (the whole text is one piece).
absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const Json& value,
                                                                std::string_view path,
                                                                const JsonFile& file);

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_PRE_TOKENIZER_H_
