// Invented, pronounceable entity names for the synthetic knowledge base ("Bobo", "Tila Wren").
#ifndef PRUNEGATE_TOOLS_CORPUS_NAMES_H_
#define PRUNEGATE_TOOLS_CORPUS_NAMES_H_

#include <set>
#include <string>
#include <vector>

#include "tools/corpus/rng.h"

namespace prunegate::corpus {

// `count` distinct names. First names are consonant-vowel syllables (CVCV such as "Bobo",
// "Tila", or CVCCV such as "Milda"), never a common English word and never one of `reserved`
// (compared case-insensitively); about a third carry a surname from a small invented pool
// ("Tila Wren"). First names are unique too, so no name is a prefix-word of another. At most a
// few thousand names are available.
std::vector<std::string> InventNames(int count, const std::set<std::string>& reserved, Rng* rng);

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_NAMES_H_
