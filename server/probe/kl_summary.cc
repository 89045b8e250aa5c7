#include "server/probe/kl_summary.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/model/session.h"
#include "server/probe/pair_check.h"
#include "server/probe/stats.h"
#include "torch/torch.h"

namespace prunegate::probe {
namespace {

double StderrOfMean(const std::vector<double>& v, double mean) {
  if (v.size() < 2) return 0;
  double sq = 0;
  for (double x : v) sq += x * x;
  const double var = sq / v.size() - mean * mean;
  return std::sqrt(std::max(0.0, var) / (v.size() - 1));
}

// llama.cpp's percentile: linear interpolation between the two sorted values around
// fraction * (n - 1); fraction <= 0 is the minimum, >= 1 the maximum. `sorted` is not empty.
double Percentile(const std::vector<double>& sorted, double fraction) {
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  const double pos = fraction * (sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double w = pos - i;
  return (1 - w) * sorted[i] + w * sorted[std::min(i + 1, sorted.size() - 1)];
}

Distribution Summarise(std::vector<double> v) {
  Distribution d;
  if (v.empty()) return d;
  double sum = 0;
  for (double x : v) sum += x;
  d.mean = sum / v.size();
  d.stderr_mean = StderrOfMean(v, d.mean);
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  auto at = [&](double q) { return Percentile(v, q); };
  d.max = v.back();
  d.p99_9 = at(0.999);
  d.p99 = at(0.99);
  d.p95 = at(0.95);
  d.p90 = at(0.90);
  d.p75 = at(0.75);
  d.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  d.p25 = at(0.25);
  d.p10 = at(0.10);
  d.p5 = at(0.05);
  d.p1 = at(0.01);
  d.p0_1 = at(0.001);
  d.min = v.front();
  return d;
}

}  // namespace

void KlAccumulator::Add(double kl, double dp, bool same_top, double logp_a, double logp_b) {
  kl_.push_back(kl);
  dp_.push_back(dp);
  ln_ratio_.push_back(logp_a - logp_b);
  same_ += same_top;
  logp_a_sum_ += logp_a;
  logp_b_sum_ += logp_b;
}

KlSummary KlAccumulator::Finish() const {
  KlSummary s;
  const int64_t n = size();
  s.tokens = n;
  if (n == 0) return s;
  s.ppl_a = std::exp(-logp_a_sum_ / n);
  s.ppl_b = std::exp(-logp_b_sum_ / n);
  const Distribution ratio = Summarise(ln_ratio_);
  s.ln_ppl_ratio = ratio.mean;  // ln(PPL_b / PPL_a) = mean(ln p_a(tok) - ln p_b(tok))
  s.ln_ppl_ratio_err = ratio.stderr_mean;
  s.kl = Summarise(kl_);
  s.dp = Summarise(dp_);
  std::vector<double> dp2(dp_.size());
  for (size_t i = 0; i < dp_.size(); ++i) dp2[i] = dp_[i] * dp_[i];
  const Distribution sq = Summarise(dp2);
  s.rms_dp = std::sqrt(sq.mean);
  s.rms_dp_err = s.rms_dp > 0 ? sq.stderr_mean / (2 * s.rms_dp) : 0;
  s.same_top = static_cast<double>(same_) / n;
  s.same_top_err = n > 1 ? std::sqrt(s.same_top * (1 - s.same_top) / (n - 1)) : 0;
  return s;
}

absl::StatusOr<KlSummary> SummarizeKl(std::shared_ptr<const Model> baseline,
                                      std::shared_ptr<const Model> candidate,
                                      const std::vector<int64_t>& ids,
                                      const KlSummaryOptions& options,
                                      const std::function<bool()>& cancelled,
                                      const std::function<void(int64_t, int64_t)>& on_window) {
  const ModelConfig& ca = baseline->config();
  PG_RETURN_IF_ERROR(CheckPair(ca, candidate->config(), PairNeeds::kVocabulary));
  // A window of len tokens scores len - 1 predictions, or len - 1 - len / 2 with
  // score_second_half: 2 tokens, or 3, is the least that scores anything.
  const size_t min_tokens = options.score_second_half ? 3 : 2;
  if (ids.size() < min_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the text has ", ids.size(), " tokens; a KL summary needs at least ", min_tokens,
        options.score_second_half ? " (the first half of each window is context only)" : ""));
  }
  PG_RETURN_IF_ERROR(ValidateTemperatures({options.temperature}));
  PG_RETURN_IF_ERROR(CheckTokenIds(ids, ca.vocab_size));
  const int64_t ctx = std::max<int64_t>(2, std::min({options.context, ca.max_position_embeddings,
                                                     candidate->config().max_position_embeddings}));
  const int64_t n = ids.size();
  const int64_t windows = (n + ctx - 1) / ctx;
  KlAccumulator acc;
  c10::InferenceMode guard;
  for (int64_t w = 0; w < windows; ++w) {
    if (cancelled && cancelled()) return absl::CancelledError("KL summary cancelled");
    const int64_t begin = w * ctx, end = std::min(n, begin + ctx);
    if (end - begin < 2) break;
    std::vector<int64_t> chunk(ids.begin() + begin, ids.begin() + end);
    PG_ASSIGN_OR_RETURN(auto sa, Session::Create(baseline));
    PG_ASSIGN_OR_RETURN(auto sb, Session::Create(candidate));
    PG_ASSIGN_OR_RETURN(at::Tensor za, sa->Feed({chunk}, LogitsMode::kAll));
    PG_ASSIGN_OR_RETURN(at::Tensor zb, sb->Feed({chunk}, LogitsMode::kAll));
    const int64_t len = end - begin;
    const int64_t first = options.score_second_half ? len / 2 : 0;
    // Positions first .. len-2 predict tokens first+1 .. len-1.
    const int64_t m = len - 1 - first;
    if (m <= 0) continue;
    const at::Tensor za_m = za[0].narrow(0, first, m), zb_m = zb[0].narrow(0, first, m);
    at::Tensor la = torch::log_softmax(za_m / options.temperature, -1);
    at::Tensor lb = torch::log_softmax(zb_m / options.temperature, -1);
    at::Tensor next =
        torch::tensor(std::vector<int64_t>(chunk.begin() + first + 1, chunk.end()), torch::kLong)
            .to(la.device())
            .view({m, 1});
    at::Tensor kl = KlDivergenceRows(la.exp(), la, lb, zb_m - za_m, options.temperature);
    at::Tensor lpa = la.gather(1, next).squeeze(1), lpb = lb.gather(1, next).squeeze(1);
    at::Tensor dp = lpb.exp() - lpa.exp();
    at::Tensor same = la.argmax(-1) == lb.argmax(-1);
    at::Tensor all =
        torch::stack({kl.to(torch::kDouble), dp.to(torch::kDouble), same.to(torch::kDouble),
                      lpa.to(torch::kDouble), lpb.to(torch::kDouble)},
                     1)
            .cpu();
    auto a = all.accessor<double, 2>();
    for (int64_t i = 0; i < m; ++i) acc.Add(a[i][0], a[i][1], a[i][2] > 0.5, a[i][3], a[i][4]);
    if (on_window) on_window(w + 1, windows);
  }
  return acc.Finish();
}

std::string FormatKlSummary(const KlSummary& s) {
  std::string out;
  absl::StrAppendFormat(&out, "====== Perplexity statistics ======\n");
  absl::StrAppendFormat(&out, "Tokens scored       : %d\n", s.tokens);
  absl::StrAppendFormat(&out, "PPL(base)           : %10.6f\n", s.ppl_a);
  absl::StrAppendFormat(&out, "PPL(candidate)      : %10.6f\n", s.ppl_b);
  absl::StrAppendFormat(&out, "ln(PPL(Q)/PPL(base)): %10.6f ± %10.6f\n", s.ln_ppl_ratio,
                        s.ln_ppl_ratio_err);
  absl::StrAppendFormat(&out, "\n====== KL divergence statistics ======\n");
  const Distribution& k = s.kl;
  absl::StrAppendFormat(&out, "Mean    KLD: %10.6f ± %10.6f\n", k.mean, k.stderr_mean);
  // The rows and order of llama.cpp's KLD block (no 75% / 25% there).
  const std::pair<const char*, double> rows[] = {
      {"Maximum", k.max}, {"99.9%  ", k.p99_9},  {"99.0%  ", k.p99}, {"95.0%  ", k.p95},
      {"90.0%  ", k.p90}, {"Median ", k.median}, {"10.0%  ", k.p10}, {" 5.0%  ", k.p5},
      {" 1.0%  ", k.p1},  {" 0.1%  ", k.p0_1},   {"Minimum", k.min}};
  for (const auto& [name, v] : rows) absl::StrAppendFormat(&out, "%s KLD: %10.6f\n", name, v);
  absl::StrAppendFormat(&out, "\n====== Token probability statistics ======\n");
  const Distribution& d = s.dp;
  absl::StrAppendFormat(&out, "Mean    Δp: %6.3f ± %5.3f %%\n", 100 * d.mean, 100 * d.stderr_mean);
  // llama.cpp's Δp block: the KLD rows plus 75% and 25% around the median.
  const std::pair<const char*, double> prow[] = {
      {"Maximum", d.max}, {"99.9%  ", d.p99_9}, {"99.0%  ", d.p99},    {"95.0%  ", d.p95},
      {"90.0%  ", d.p90}, {"75.0%  ", d.p75},   {"Median ", d.median}, {"25.0%  ", d.p25},
      {"10.0%  ", d.p10}, {" 5.0%  ", d.p5},    {" 1.0%  ", d.p1},     {" 0.1%  ", d.p0_1},
      {"Minimum", d.min}};
  for (const auto& [name, v] : prow) absl::StrAppendFormat(&out, "%s Δp: %6.3f%%\n", name, 100 * v);
  absl::StrAppendFormat(&out, "RMS Δp    : %6.3f ± %5.3f %%\n", 100 * s.rms_dp, 100 * s.rms_dp_err);
  absl::StrAppendFormat(&out, "Same top p: %6.3f ± %5.3f %%\n", 100 * s.same_top,
                        100 * s.same_top_err);
  return out;
}

}  // namespace prunegate::probe
