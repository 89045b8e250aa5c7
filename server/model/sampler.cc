#include "server/model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "torch/torch.h"

namespace prunegate {

absl::Status ValidateSamplingOptions(const SamplingOptions& o) {
  if (!std::isfinite(o.temperature) || o.temperature < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be >= 0 (0 = greedy), got ", o.temperature));
  }
  if (o.top_k < 0)
    return absl::InvalidArgumentError(absl::StrCat("top_k must be >= 0, got ", o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", o.top_p));
  }
  return absl::OkStatus();
}

Sampler::Sampler(const SamplingOptions& options) : options_(options), rng_(options.seed) {}

double Sampler::Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

int64_t Sampler::Sample(const at::Tensor& logits) {
  at::Tensor cpu = logits.to(torch::kCPU, torch::kFloat).contiguous();
  const float* z = cpu.data_ptr<float>();
  const int64_t v = cpu.numel();
  if (options_.temperature == 0.0) {
    return std::max_element(z, z + v) - z;  // first maximum
  }
  const double inv_t = 1.0 / options_.temperature;
  // Candidate set in descending order of logit (ties: lower id first).
  order_.resize(v);
  std::iota(order_.begin(), order_.end(), 0);
  auto by_logit = [z](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  int64_t n = v;
  if (options_.top_k > 0 && options_.top_k < v) {
    n = options_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), by_logit);
  } else if (options_.top_p < 1.0) {
    std::sort(order_.begin(), order_.end(), by_logit);
  }
  // Softmax over the candidates in double, max-subtracted.
  double zmax = -INFINITY;
  for (int64_t i = 0; i < n; ++i) zmax = std::max<double>(zmax, z[order_[i]]);
  weights_.resize(n);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    weights_[i] = std::exp((z[order_[i]] - zmax) * inv_t);
    total += weights_[i];
  }
  if (options_.top_p < 1.0) {
    // Keep the smallest prefix whose mass reaches top_p (at least one token). With top-k off,
    // order_ is fully sorted; with top-k on, the first n are sorted.
    double cum = 0;
    int64_t keep = 0;
    while (keep < n) {
      cum += weights_[keep] / total;
      ++keep;
      if (cum >= options_.top_p) break;
    }
    n = keep;
    total = 0;
    for (int64_t i = 0; i < n; ++i) total += weights_[i];
  }
  const double u = Uniform() * total;
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc += weights_[i];
    if (u < acc) return order_[i];
  }
  return order_[n - 1];
}

std::vector<int64_t> Sampler::SampleBatch(const at::Tensor& logits) {
  std::vector<int64_t> out;
  out.reserve(logits.size(0));
  for (int64_t b = 0; b < logits.size(0); ++b) out.push_back(Sample(logits[b]));
  return out;
}

}  // namespace prunegate
