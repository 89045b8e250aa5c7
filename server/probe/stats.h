// Three-space perturbation statistics (../shared/DESIGN.md, "Definitions"), a = baseline,
// b = candidate, always in that direction. Everything is reduced on the tensors' device, batched
// over positions and temperatures, and returned as a few scalars per (position, temperature).
//
//   ang(x, y)  = 1 - cos(x, y), computed as |x/|x| - y/|y||^2 / 2 (exactly 0 for x == y)
//   Δ = b - a, Δ⊥ = Δ - (<Δ,a>/|a|^2) a;  Theorem 1: ang ≈ |Δ⊥|^2 / (2 |a|^2)
//   p = softmax(z_a / T), q = softmax(z_b / T), δ = z_b - z_a
//   KL(p||q) = Σ p (log p - log q)     ≈ Var_p(δ) / (2 T^2)
//   ang(p, q)                          ≈ Var_r(δ) / (2 T^2),  r = p^2 / |p|^2
//   Var_w(δ) = Σ w (δ - Σ w δ)^2
#ifndef PRUNEGATE_SERVER_PROBE_STATS_H_
#define PRUNEGATE_SERVER_PROBE_STATS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"

namespace prunegate::probe {

// Hidden-state or logit-space comparison of one vector pair.
struct VectorStats {
  double ang = 0;       // 1 - cos(a, b)
  double ang_pred = 0;  // |Δ⊥|^2 / (2 |a|^2)
  double norm_a = 0, norm_b = 0;
  double rel_delta = 0;  // |b - a| / |a|
};

// Probability-space comparison at one temperature.
struct ProbStats {
  double temperature = 1;
  double kl = 0;        // KL(p || q)
  double kl_pred = 0;   // Var_p(δ) / (2 T^2)
  double ang = 0;       // 1 - cos(p, q)
  double ang_pred = 0;  // Var_r(δ) / (2 T^2)
  double js = 0;        // Jensen-Shannon divergence (natural log)
  double tv = 0;        // total variation, Σ|p - q| / 2
  double entropy_a = 0, entropy_b = 0;
  // Δp of the row's reference token, q(ref) - p(ref); which token that is, is the caller's choice
  // (CompareOptions); 0 when there is none.
  double dp_ref = 0;
};

// Temperature-independent comparisons of a logit pair.
struct LogitStats {
  VectorStats vector;  // z-space ang and its estimate
  bool top1_agree = false;
  double topk_overlap = 0;  // |top-k(z_a) ∩ top-k(z_b)| / k
  int64_t top1_a = 0, top1_b = 0;
};

struct CompareOptions {
  std::vector<double> temperatures = {1.0};
  int64_t top_k = 10;
  // Per-row reference token (e.g. the next token of the text) for Δp; empty = none.
  std::vector<int64_t> reference_ids;
  // Instead of reference_ids: each row's reference is the baseline's own top-1 token, argmax z_a
  // (found on the device, no round trip). Setting both is INVALID_ARGUMENT.
  bool reference_top1_a = false;
};

struct RowStats {
  LogitStats logits;
  std::vector<ProbStats> probs;  // one per temperature, in CompareOptions order
};

// a, b: (N, D) on one device; one VectorStats per row. INVALID_ARGUMENT on shape mismatch.
absl::StatusOr<std::vector<VectorStats>> CompareVectors(const at::Tensor& a, const at::Tensor& b);

// z_a, z_b: (N, V) logits of the baseline and the candidate for the same N positions. All
// probability statistics for every temperature come from this one pair of logit tensors.
// INVALID_ARGUMENT: shapes differ, T <= 0 or not finite, top_k outside [1, V], reference ids
// count != N or out of range, or reference ids given together with reference_top1_a.
absl::StatusOr<std::vector<RowStats>> CompareLogits(const at::Tensor& z_a, const at::Tensor& z_b,
                                                    const CompareOptions& options);

// Multiple-choice subspace: logits restricted to `candidates` (token ids), p_C = softmax(z_a[C]/T).
struct SubspaceStats {
  double temperature = 1;
  double kl = 0;                       // KL(p_C || q_C)
  double ang = 0;                      // 1 - cos(p_C, q_C)
  int64_t argmax_a = 0, argmax_b = 0;  // indexes into `candidates`
  bool argmax_agree = false;
  std::vector<double> p, q;  // the two candidate distributions
};

// z_a, z_b: (V) logits after a prompt. INVALID_ARGUMENT for fewer than 2 candidates, ids out of
// range, or T <= 0.
absl::StatusOr<std::vector<SubspaceStats>> CompareSubspace(const at::Tensor& z_a,
                                                           const at::Tensor& z_b,
                                                           const std::vector<int64_t>& candidates,
                                                           const std::vector<double>& temperatures);

// KL(p || q) per row of p = softmax(z_a / T), q = softmax(z_b / T), from p, log p, log q and
// delta = z_b - z_a (all (N, V), float32 or wider). With u = delta / T - E_p[delta / T]:
// KL = log E_p[e^u] - E_p[u], evaluated as log1p(sum p (expm1(u) - u)). Every term is >= 0, so
// the result is never negative, is exactly 0 for identical logits, and keeps its relative
// precision for tiny perturbations, where the textbook sum p (log p - log q) in float32 has an
// absolute rounding floor near 1e-7 and can come out negative. Rows where expm1 overflows (a
// large delta / T) take the textbook form, clamped at 0; it is computed only when some row needs
// it. `work1`, `work2`: optional buffers shaped like p, overwritten.
at::Tensor KlDivergenceRows(const at::Tensor& p, const at::Tensor& log_p, const at::Tensor& log_q,
                            const at::Tensor& delta, double temperature, at::Tensor work1 = {},
                            at::Tensor work2 = {});

// Shared validation of a temperature list (non-empty, every T finite and > 0).
absl::Status ValidateTemperatures(const std::vector<double>& temperatures);

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_STATS_H_
