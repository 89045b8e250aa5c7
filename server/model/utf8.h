// Small UTF-8 helpers for the tokenizers: validation, code point iteration, lossy repair.
#ifndef PRUNEGATE_SERVER_MODEL_UTF8_H_
#define PRUNEGATE_SERVER_MODEL_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace prunegate::utf8 {

// Length (1..4) of the well-formed UTF-8 sequence starting at s[i], or 0 when the bytes there are
// not one (stray continuation byte, overlong form, surrogate, > U+10FFFF, truncated).
size_t CharLength(std::string_view s, size_t i);

// True when `s` is well-formed UTF-8; otherwise false and `*bad_offset` (if given) is the offset
// of the first ill-formed byte.
bool IsValid(std::string_view s, size_t* bad_offset = nullptr);

// Decodes the code point at s[*i] (which must start a well-formed sequence) and advances *i.
char32_t NextCodePoint(std::string_view s, size_t* i);

// Appends the UTF-8 encoding of `cp` (which must be a Unicode scalar value).
void AppendCodePoint(char32_t cp, std::string* out);

// Like Rust's String::from_utf8_lossy: every maximal ill-formed subpart becomes U+FFFD.
std::string RepairLossy(std::string_view bytes);

}  // namespace prunegate::utf8

#endif  // PRUNEGATE_SERVER_MODEL_UTF8_H_
