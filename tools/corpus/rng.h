// The corpus generator's only source of randomness: std::mt19937_64 (whose output sequence the
// C++ standard fixes) with hand-written integer range mapping, so the same seed gives the same
// corpus with every standard library. std:: distributions are deliberately not used: their
// algorithms differ between libstdc++, libc++ and MSVC.
#ifndef PRUNEGATE_TOOLS_CORPUS_RNG_H_
#define PRUNEGATE_TOOLS_CORPUS_RNG_H_

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace prunegate::corpus {

// SplitMix64 of seed and stream: independent seeds for the generator's separate streams (KB,
// held-out items, training text, ...), so changing one output's size leaves the others intact.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Next() { return engine_(); }
  // Uniform in [0, n) for n > 0, without modulo bias (rejection sampling).
  uint64_t Below(uint64_t n);
  // Uniform in [lo, hi] (inclusive), lo <= hi.
  int Range(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability num / den.
  bool Chance(uint64_t num, uint64_t den) { return Below(den) < num; }
  // Index drawn with probability weights[i] / sum(weights); weights non-negative, sum > 0.
  size_t Weighted(const std::vector<uint64_t>& weights);

  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }
  // Fisher-Yates.
  template <typename T>
  void Shuffle(std::vector<T>* items) {
    for (size_t i = items->size(); i > 1; --i) {
      std::swap((*items)[i - 1], (*items)[Below(i)]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_RNG_H_
