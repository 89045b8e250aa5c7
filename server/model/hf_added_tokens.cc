#include "server/model/hf_added_tokens.h"

#include <algorithm>
#include <utility>

#include "server/model/unicode_regex.h"
#include "server/model/utf8.h"

namespace prunegate::hf {
namespace {

bool IsContinuationByte(char c) { return (static_cast<uint8_t>(c) & 0xC0) == 0x80; }

// Start of the character that ends just before `pos`.
size_t PrevCharStart(std::string_view text, size_t pos) {
  size_t i = pos - 1;
  while (i > 0 && IsContinuationByte(text[i])) --i;
  return i;
}

bool WordCharBefore(std::string_view text, size_t pos) {
  if (pos == 0) return false;
  size_t i = PrevCharStart(text, pos);
  return IsUnicodeWordChar(utf8::NextCodePoint(text, &i));
}

bool WordCharAt(std::string_view text, size_t pos) {
  if (pos >= text.size()) return false;
  return IsUnicodeWordChar(utf8::NextCodePoint(text, &pos));
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<Entry> entries) : entries_(std::move(entries)) {
  for (int i = 0; i < static_cast<int>(entries_.size()); ++i) {
    if (entries_[i].pattern.empty()) continue;
    by_first_byte_[static_cast<uint8_t>(entries_[i].pattern[0])].push_back(i);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
      return entries_[a].pattern.size() > entries_[b].pattern.size();
    });
  }
}

int AddedTokenMatcher::LongestAt(std::string_view text, size_t pos) const {
  for (int index : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
    const std::string& pattern = entries_[index].pattern;
    if (text.compare(pos, pattern.size(), pattern) == 0) return index;
  }
  return -1;
}

std::vector<AddedTokenMatcher::Segment> AddedTokenMatcher::Split(std::string_view text) const {
  std::vector<Segment> segments;
  size_t start_offset = 0;  // end of the last emitted segment
  size_t pos = 0;
  while (pos < text.size() && !entries_.empty()) {
    const int index = LongestAt(text, pos);
    if (index < 0) {
      ++pos;  // patterns start on a character boundary, so bytes inside a character never match
      continue;
    }
    const AddedToken& token = entries_[index].token;
    size_t start = pos;
    size_t stop = pos + entries_[index].pattern.size();
    pos = stop;
    if (token.single_word && (WordCharBefore(text, start) || WordCharAt(text, stop))) continue;
    if (token.lstrip) {
      size_t s = start;
      while (s > start_offset) {
        size_t prev = PrevCharStart(text, s);
        size_t i = prev;
        if (!IsUnicodeWhitespace(utf8::NextCodePoint(text, &i))) break;
        s = prev;
      }
      start = s;
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        size_t i = stop;
        if (!IsUnicodeWhitespace(utf8::NextCodePoint(text, &i))) break;
        stop = i;
      }
      pos = stop;
    }
    if (start_offset < start) segments.push_back({start_offset, start, -1});
    segments.push_back({start, stop, token.id});
    start_offset = stop;
  }
  if (start_offset < text.size() || segments.empty()) {
    segments.push_back({start_offset, text.size(), -1});
  }
  return segments;
}

}  // namespace prunegate::hf
