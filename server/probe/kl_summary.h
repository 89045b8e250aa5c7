// Teacher-forced KL summary over a text, with the statistics block of llama.cpp's
// `llama-perplexity --kl-divergence` (same percentiles, interpolated as it does, same error
// bars), so prunegate's numbers can be compared with numbers from that tool.
#ifndef PRUNEGATE_SERVER_PROBE_KL_SUMMARY_H_
#define PRUNEGATE_SERVER_PROBE_KL_SUMMARY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/model.h"

namespace prunegate::probe {

// pNN is the NN-th percentile (p99_9: 99.9%), interpolated as llama.cpp does (KlAccumulator).
struct Distribution {
  double mean = 0, stderr_mean = 0;
  double max = 0, p99_9 = 0, p99 = 0, p95 = 0, p90 = 0, p75 = 0, median = 0, p25 = 0, p10 = 0,
         p5 = 0, p1 = 0, p0_1 = 0, min = 0;
};

struct KlSummary {
  int64_t tokens = 0;
  double ppl_a = 0, ppl_b = 0;                    // perplexities of the scored tokens
  double ln_ppl_ratio = 0, ln_ppl_ratio_err = 0;  // mean of ln p_a(tok) - ln p_b(tok)
  Distribution kl;                                // KL(p_a || p_b) per token (natural log)
  Distribution dp;                                // p_b(tok) - p_a(tok) of the actual next token
  double rms_dp = 0, rms_dp_err = 0;
  double same_top = 0, same_top_err = 0;  // fraction where both models' top token agrees
};

// Accumulates per-token values; Finish() sorts and summarises with llama.cpp's conventions
// (tools/perplexity/perplexity.cpp): percentile q interpolates linearly at x = q * (n - 1),
// (1 - (x - i)) * sorted[i] + (x - i) * sorted[i + 1] with i = floor(x); the median averages the
// middle pair; errors are sqrt(var / (n - 1)) (llama.cpp reports 0 for n <= 10; we do not).
class KlAccumulator {
 public:
  void Add(double kl, double dp, bool same_top, double logp_a, double logp_b);
  KlSummary Finish() const;
  int64_t size() const { return static_cast<int64_t>(kl_.size()); }

 private:
  std::vector<double> kl_, dp_, ln_ratio_;
  int64_t same_ = 0;
  double logp_a_sum_ = 0, logp_b_sum_ = 0;
};

struct KlSummaryOptions {
  int64_t context = 512;          // tokens per window (capped by max_position_embeddings)
  bool score_second_half = true;  // as llama-perplexity: the first half of a window is context
  double temperature = 1.0;
};

// Splits `ids` into windows of `context` tokens, runs both models teacher-forced on each, and
// accumulates every scored position. INVALID_ARGUMENT for a mismatched pair, fewer than 2
// tokens, ids out of range, T <= 0; CANCELLED when `cancelled` says so between windows.
// `on_window` (optional) gets (windows done, windows total).
absl::StatusOr<KlSummary> SummarizeKl(std::shared_ptr<const Model> baseline,
                                      std::shared_ptr<const Model> candidate,
                                      const std::vector<int64_t>& ids,
                                      const KlSummaryOptions& options,
                                      const std::function<bool()>& cancelled = {},
                                      const std::function<void(int64_t, int64_t)>& on_window = {});

// The llama.cpp-style text block ("====== KL divergence statistics ======" ...).
std::string FormatKlSummary(const KlSummary& summary);

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_KL_SUMMARY_H_
