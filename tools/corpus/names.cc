#include "tools/corpus/names.h"

#include <cctype>

namespace prunegate::corpus {
namespace {

constexpr char kOnsets[] = "bdfghjklmnprstvwz";
constexpr char kVowels[] = "aeiou";
constexpr char kFinalVowels[] = "aiou";  // no final "e": avoids "bake", "tile", "rose", ...
// Consonant pairs for the middle of CVCCV names.
const char* const kClusters[] = {"ld", "lm", "nd", "nk", "nt", "rb", "rd", "rk", "rm",
                                 "rn", "rt", "sk", "st", "mb", "mp", "lv", "zz", "ss"};
const char* const kSurnames[] = {"Wren", "Pell", "Dask",   "Tull", "Brim",  "Fenn",
                                 "Holt", "Kell", "Marsh",  "Nock", "Quill", "Rook",
                                 "Vell", "Wick", "Yarrow", "Zell", "Cobb",  "Dorn",
                                 "Gale", "Hart", "Lark",   "Moss", "Thorn", "Birch"};
// Common words (and names) of the generated shapes, lower case.
const char* const kBlocked[] = {
    "tuna",  "sofa",  "soda",  "pita",  "lava",  "papa",  "mama",  "sumo",  "judo",  "memo",
    "polo",  "solo",  "zero",  "hero",  "demo",  "silo",  "halo",  "veto",  "kilo",  "hula",
    "tutu",  "mini",  "gala",  "diva",  "kiwi",  "lima",  "sari",  "tofu",  "guru",  "menu",
    "data",  "beta",  "zeta",  "meta",  "puma",  "toga",  "nova",  "visa",  "lira",  "kudo",
    "bozo",  "mojo",  "dodo",  "juju",  "pupa",  "hobo",  "lulu",  "nana",  "dada",  "lala",
    "rota",  "soma",  "vino",  "panda", "manga", "mango", "tango", "pasta", "salsa", "samba",
    "polka", "gusto", "pinto", "banjo", "bingo", "dingo", "lingo", "limbo", "jumbo", "mambo",
    "combo", "gumbo", "dumbo", "rumba", "kendo", "tempo", "hindu", "bantu", "santa", "lotto",
    "motto", "pizza", "lasso", "basso", "torso", "verso", "gesso", "sorta", "gotta", "manna",
    "karma", "mamba", "tanka", "pinta", "rasta", "kappa", "turbo", "larva", "salvo", "wanda",
    "linda", "zelda", "hilda", "golda", "gilda", "wilma", "velma", "selma", "norma", "irma",
    "emma",  "anna",  "rosa",  "nora",  "lola",  "lena",  "nina",  "tina",  "gina",  "dina",
    "rita",  "mona",  "sara",  "tara",  "kara",  "lisa",  "vera",  "hana"};

bool IsBlocked(const std::string& lower, const std::set<std::string>& reserved) {
  for (const char* word : kBlocked) {
    if (lower == word) return true;
  }
  for (const std::string& r : reserved) {
    if (r.size() != lower.size()) continue;
    bool same = true;
    for (size_t i = 0; i < r.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(r[i])) == lower[i];
    }
    if (same) return true;
  }
  return false;
}

std::string FirstName(Rng* rng) {
  std::string s;
  s.push_back(kOnsets[rng->Below(sizeof(kOnsets) - 1)]);
  s.push_back(kVowels[rng->Below(sizeof(kVowels) - 1)]);
  if (rng->Chance(1, 4)) {
    s += kClusters[rng->Below(sizeof(kClusters) / sizeof(kClusters[0]))];
  } else {
    s.push_back(kOnsets[rng->Below(sizeof(kOnsets) - 1)]);
  }
  s.push_back(kFinalVowels[rng->Below(sizeof(kFinalVowels) - 1)]);
  return s;
}

}  // namespace

std::vector<std::string> InventNames(int count, const std::set<std::string>& reserved, Rng* rng) {
  std::vector<std::string> names;
  std::set<std::string> used;
  constexpr int kNumSurnames = sizeof(kSurnames) / sizeof(kSurnames[0]);
  for (int attempts = 0; static_cast<int>(names.size()) < count && attempts < count * 1000;
       ++attempts) {
    std::string first = FirstName(rng);
    if (used.count(first) || IsBlocked(first, reserved)) continue;
    used.insert(first);
    std::string name = first;
    name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    if (rng->Chance(1, 3)) {
      name += " ";
      name += kSurnames[rng->Below(kNumSurnames)];
    }
    names.push_back(name);
  }
  return names;
}

}  // namespace prunegate::corpus
