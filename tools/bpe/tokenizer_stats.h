// How well a tokenizer compresses a corpus of documents separated by empty lines: tokens per
// whitespace-separated word, bytes per token, and document lengths in tokens (the numbers that
// size a tiny model's context). Torch-free.
#ifndef PRUNEGATE_TOOLS_BPE_TOKENIZER_STATS_H_
#define PRUNEGATE_TOOLS_BPE_TOKENIZER_STATS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/model/tokenizer.h"

namespace prunegate::bpe {

struct TokenizationStats {
  int64_t documents = 0;
  int64_t words = 0;   // whitespace-separated
  int64_t tokens = 0;  // without special tokens
  int64_t bytes = 0;
  double tokens_per_word = 0;
  double bytes_per_token = 0;
  // Document lengths in tokens, without special tokens.
  int64_t doc_tokens_median = 0, doc_tokens_p99 = 0, doc_tokens_max = 0;
  int64_t docs_over_254 = 0;  // documents that do not fit 256 positions with BOS and EOS

  // One-line JSON.
  std::string ToJson() const;
};

// Splits `text` into documents at "\n\n" and encodes each (add_special_tokens=false).
absl::StatusOr<TokenizationStats> MeasureTokenization(const Tokenizer& tokenizer,
                                                      std::string_view text);

}  // namespace prunegate::bpe

#endif  // PRUNEGATE_TOOLS_BPE_TOKENIZER_STATS_H_
