// tokenizer.json `added_tokens`: tokens matched literally in the input before the model runs
// (special tokens such as "<|im_start|>" and user-added words). Internal.
#ifndef PRUNEGATE_SERVER_MODEL_HF_ADDED_TOKENS_H_
#define PRUNEGATE_SERVER_MODEL_HF_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prunegate::hf {

struct AddedToken {
  int64_t id = 0;
  std::string content;
  bool single_word = false;  // match only between non-word characters
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = true;    // matched in normalized text (else in the raw input)
  bool special = false;      // dropped by Decode(skip_special_tokens)
};

// Finds added tokens in text the way Hugging Face's AddedVocabulary does: leftmost-longest,
// non-overlapping matches, with the single_word / lstrip / rstrip rules applied to each match.
class AddedTokenMatcher {
 public:
  struct Entry {
    std::string pattern;  // what is matched: the content, normalized for normalized tokens
    AddedToken token;
  };
  struct Segment {
    size_t begin, end;  // byte range in the text
    int64_t id;         // the added token's id, or -1 for ordinary text
  };

  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<Entry> entries);

  // Cuts well-formed UTF-8 `text` into ordinary-text and added-token segments, in order. Empty
  // text gives one empty text segment.
  std::vector<Segment> Split(std::string_view text) const;
  bool empty() const { return entries_.empty(); }

 private:
  // Index of the longest pattern matching at text[pos], or -1.
  int LongestAt(std::string_view text, size_t pos) const;

  std::vector<Entry> entries_;
  std::array<std::vector<int>, 256> by_first_byte_;  // entry indices, longest pattern first
};

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_ADDED_TOKENS_H_
