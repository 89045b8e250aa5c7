#include "server/model/utf8.h"

#include <cstdint>

namespace prunegate::utf8 {
namespace {

// Number of bytes of s[i..] that form a prefix of a well-formed sequence; `*complete` says whether
// that prefix is a whole character. Follows Unicode Table 3-7 (well-formed byte sequences).
size_t WellFormedPrefix(std::string_view s, size_t i, bool* complete) {
  *complete = false;
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) {
    *complete = true;
    return 1;
  }
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  size_t k = 1;
  for (; k < need; ++k) {
    if (i + k >= s.size()) return k;
    const uint8_t b = byte(k);
    const uint8_t l = k == 1 ? lo : 0x80;
    const uint8_t h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return k;
  }
  *complete = true;
  return need;
}

}  // namespace

size_t CharLength(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  bool complete;
  size_t n = WellFormedPrefix(s, i, &complete);
  return complete ? n : 0;
}

bool IsValid(std::string_view s, size_t* bad_offset) {
  size_t i = 0;
  while (i < s.size()) {
    size_t n = CharLength(s, i);
    if (n == 0) {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    i += n;
  }
  return true;
}

char32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[*i + k]); };
  const uint8_t b0 = byte(0);
  char32_t cp;
  size_t n;
  if (b0 < 0x80) {
    cp = b0;
    n = 1;
  } else if (b0 < 0xE0) {
    cp = b0 & 0x1F;
    n = 2;
  } else if (b0 < 0xF0) {
    cp = b0 & 0x0F;
    n = 3;
  } else {
    cp = b0 & 0x07;
    n = 4;
  }
  for (size_t k = 1; k < n && *i + k < s.size(); ++k) cp = (cp << 6) | (byte(k) & 0x3F);
  *i += n;
  return cp;
}

void AppendCodePoint(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string RepairLossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    bool complete;
    size_t n = WellFormedPrefix(bytes, i, &complete);
    if (complete) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      i += n == 0 ? 1 : n;
    }
  }
  return out;
}

}  // namespace prunegate::utf8
