// GPT-2's reversible byte <-> printable-unicode map used by byte-level BPE tokenizers: bytes
// '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to the code point of the same value, the remaining 68
// bytes to U+0100 + n in byte order (so ' ' -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A).
#ifndef PRUNEGATE_SERVER_MODEL_BYTE_LEVEL_H_
#define PRUNEGATE_SERVER_MODEL_BYTE_LEVEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace prunegate::byte_level {

// The code point byte `b` maps to.
char32_t ByteToCodePoint(uint8_t b);
// The byte a code point maps back from, or nullopt for a code point outside the map.
std::optional<uint8_t> CodePointToByte(char32_t cp);

// Maps every byte of `bytes` to its code point, UTF-8 encoded ("a b" -> "aĠb").
std::string BytesToSymbols(std::string_view bytes);
// Inverse of BytesToSymbols for UTF-8 `symbols`; nullopt when any code point is outside the map
// or `symbols` is not well-formed UTF-8.
std::optional<std::string> SymbolsToBytes(std::string_view symbols);

}  // namespace prunegate::byte_level

#endif  // PRUNEGATE_SERVER_MODEL_BYTE_LEVEL_H_
