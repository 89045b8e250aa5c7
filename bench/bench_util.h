// Shared pieces of the benchmarks: random-weight models of a given shape, and a measurement of
// the machine's memory read bandwidth (the bound a decode step is held against).
#ifndef PRUNEGATE_BENCH_BENCH_UTIL_H_
#define PRUNEGATE_BENCH_BENCH_UTIL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/model/model.h"

namespace prunegate::bench {

struct ModelShape {
  std::string architecture = "qwen2";  // llama | mistral | qwen2
  int64_t hidden = 896, intermediate = 4864, layers = 24, heads = 14, kv_heads = 2;
  int64_t vocab = 151936;
  bool tied = true;
  std::string dtype = "float32";
};

// A model of `shape` with N(0, 0.02) weights (norms 1), built in memory on CPU.
absl::StatusOr<std::shared_ptr<const Model>> RandomModel(const ModelShape& shape, uint64_t seed);

// Bytes a single decode token must stream from memory: every layer weight, the final norm and
// the LM head (the embedding contributes one row only).
int64_t DecodeWeightBytes(const Model& model);

// Sustained read bandwidth in bytes/s: `threads` threads summing disjoint parts of a buffer of
// `bytes` (well beyond the caches); best of `repeats`.
double MeasureReadBandwidth(int threads, size_t bytes = size_t{1} << 30, int repeats = 5);

// Seconds since an arbitrary epoch (steady clock).
double Now();

}  // namespace prunegate::bench

#endif  // PRUNEGATE_BENCH_BENCH_UTIL_H_
