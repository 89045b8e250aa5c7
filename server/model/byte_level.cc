#include "server/model/byte_level.h"

#include <array>

#include "server/model/utf8.h"

namespace prunegate::byte_level {
namespace {

bool MapsToItself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<char32_t, 256> byte_to_cp;
  std::array<int16_t, 512> cp_to_byte;  // every mapped code point is < 512; -1 = unmapped
  std::array<std::string, 256> byte_to_utf8;
};

const Tables& GetTables() {
  static const Tables* tables = [] {
    auto* t = new Tables();
    t->cp_to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = MapsToItself(b) ? static_cast<char32_t>(b) : 256 + n++;
      t->byte_to_cp[b] = cp;
      t->cp_to_byte[cp] = static_cast<int16_t>(b);
      utf8::AppendCodePoint(cp, &t->byte_to_utf8[b]);
    }
    return t;
  }();
  return *tables;
}

}  // namespace

char32_t ByteToCodePoint(uint8_t b) { return GetTables().byte_to_cp[b]; }

std::optional<uint8_t> CodePointToByte(char32_t cp) {
  if (cp >= 512) return std::nullopt;
  const int16_t b = GetTables().cp_to_byte[cp];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

std::string BytesToSymbols(std::string_view bytes) {
  const Tables& t = GetTables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.byte_to_utf8[static_cast<uint8_t>(c)];
  return out;
}

std::optional<std::string> SymbolsToBytes(std::string_view symbols) {
  std::string out;
  out.reserve(symbols.size());
  size_t i = 0;
  while (i < symbols.size()) {
    if (utf8::CharLength(symbols, i) == 0) return std::nullopt;
    std::optional<uint8_t> b = CodePointToByte(utf8::NextCodePoint(symbols, &i));
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

}  // namespace prunegate::byte_level
