// Pre-tokenization and word counting for BPE training: text is cut into pieces by the same
// Split regex the written tokenizer.json uses (so training sees exactly the pieces encoding
// will), and each distinct piece is counted. Torch-free.
#ifndef PRUNEGATE_TOOLS_BPE_WORD_COUNTS_H_
#define PRUNEGATE_TOOLS_BPE_WORD_COUNTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace prunegate {
class UnicodeRegex;
}

namespace prunegate::bpe {

// Qwen2's pre-tokenizer regex: contractions, letter runs with one leading non-letter, single
// digits (\p{N}: every digit its own piece), punctuation runs, newlines, spaces.
inline constexpr char kSplitPattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class WordCounter {
 public:
  // Compiles `pattern` (Oniguruma / Hugging Face regex syntax). INVALID_ARGUMENT when it does
  // not compile.
  static absl::StatusOr<WordCounter> Create(const std::string& pattern = kSplitPattern);
  WordCounter(WordCounter&&) noexcept;
  WordCounter& operator=(WordCounter&&) noexcept;
  ~WordCounter();

  // Pre-tokenizes `text` (well-formed UTF-8; INVALID_ARGUMENT otherwise) and counts its pieces,
  // using up to `threads` threads. The text is cut only right after a newline that is followed by
  // a non-space character, where no regex match can straddle, so the pieces are exactly those of
  // one pass over the whole text.
  absl::Status Add(std::string_view text, int threads = 1);

  // Piece (raw UTF-8 bytes) -> occurrences.
  const absl::flat_hash_map<std::string, int64_t>& counts() const { return counts_; }
  int64_t total_pieces() const { return total_; }

  // The pieces of `text` in order (for tests and statistics).
  absl::StatusOr<std::vector<std::string>> Split(std::string_view text) const;

 private:
  explicit WordCounter(std::unique_ptr<UnicodeRegex> regex);
  absl::Status CountChunk(std::string_view text,
                          absl::flat_hash_map<std::string, int64_t>* counts) const;

  std::unique_ptr<UnicodeRegex> regex_;
  absl::flat_hash_map<std::string, int64_t> counts_;
  int64_t total_ = 0;
};

}  // namespace prunegate::bpe

#endif  // PRUNEGATE_TOOLS_BPE_WORD_COUNTS_H_
