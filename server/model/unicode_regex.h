// Oniguruma-backed Unicode regular expressions for tokenizer pre-tokenizers (Split patterns such
// as GPT-2's, Llama-3's and Qwen2's, with \p{L}, \p{N}, (?i:...) and lookahead), plus the two
// Unicode character predicates the added-token matcher needs.
#ifndef PRUNEGATE_SERVER_MODEL_UNICODE_REGEX_H_
#define PRUNEGATE_SERVER_MODEL_UNICODE_REGEX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

struct re_pattern_buffer;  // Oniguruma's regex_t

namespace prunegate {

class UnicodeRegex {
 public:
  // Compiles `pattern` (UTF-8, ONIG_SYNTAX_DEFAULT i.e. Ruby syntax, the dialect Hugging Face
  // tokenizers uses). INVALID_ARGUMENT quoting the pattern and Oniguruma's message on failure.
  static absl::StatusOr<std::unique_ptr<UnicodeRegex>> Compile(std::string_view pattern);
  ~UnicodeRegex();
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // All non-overlapping matches in `text` (which must be well-formed UTF-8; INVALID_ARGUMENT
  // otherwise), leftmost first, as [begin, end) byte ranges. An empty match right where the
  // previous match ended is skipped by advancing one character (as the onig crate does).
  // Thread-safe: each call uses its own match region.
  absl::StatusOr<std::vector<std::pair<size_t, size_t>>> FindAll(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  UnicodeRegex(std::string pattern, re_pattern_buffer* regex)
      : pattern_(std::move(pattern)), regex_(regex) {}
  std::string pattern_;
  re_pattern_buffer* regex_;
};

// Unicode White_Space (Rust's char::is_whitespace).
bool IsUnicodeWhitespace(char32_t cp);
// Letters, marks, numbers and connector punctuation (regex \w).
bool IsUnicodeWordChar(char32_t cp);

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_UNICODE_REGEX_H_
