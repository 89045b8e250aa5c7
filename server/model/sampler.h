// Next-token sampling: greedy, temperature, top-k, top-p; seeded and deterministic for a seed
// (a specified engine, std::mt19937_64, and our own float conversion, so the same seed gives the
// same tokens on every platform and libtorch version).
#ifndef PRUNEGATE_SERVER_MODEL_SAMPLER_H_
#define PRUNEGATE_SERVER_MODEL_SAMPLER_H_

#include <cstdint>
#include <random>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"

namespace prunegate {

struct SamplingOptions {
  double temperature = 0.0;  // 0 = greedy (argmax); > 0 samples from softmax(logits / T)
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off; keep the smallest set of tokens whose mass reaches top_p
  uint64_t seed = 0;
};

// INVALID_ARGUMENT for T < 0 or non-finite, top_k < 0, top_p outside (0, 1].
absl::Status ValidateSamplingOptions(const SamplingOptions& options);

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  // `logits`: (V) of any floating dtype on any device. Order of filters as in Hugging Face:
  // temperature, then top-k, then top-p. Ties break toward the lower id.
  int64_t Sample(const at::Tensor& logits);
  // (B, V) -> B ids, one draw per row in row order.
  std::vector<int64_t> SampleBatch(const at::Tensor& logits);
  const SamplingOptions& options() const { return options_; }

 private:
  double Uniform();  // [0, 1)
  SamplingOptions options_;
  std::mt19937_64 rng_;
  // Reused across steps: no vocab-sized allocation per token.
  std::vector<float> scaled_;
  std::vector<int32_t> order_;
  std::vector<double> weights_;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_SAMPLER_H_
