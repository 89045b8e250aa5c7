#include "server/probe/stats.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "torch/torch.h"

namespace prunegate::probe {
namespace {

// 1 - cos per row via unit vectors: |â - b̂|^2 / 2 (no cancellation; exactly 0 when a == b).
at::Tensor Ang(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor ua = a / a.norm(2, -1, true).clamp_min(1e-30);
  at::Tensor ub = b / b.norm(2, -1, true).clamp_min(1e-30);
  return (ua - ub).pow(2).sum(-1) * 0.5;
}

// |Δ⊥|^2 / (2 |a|^2) per row.
at::Tensor AngPred(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor d = b - a;
  at::Tensor a2 = a.pow(2).sum(-1, true).clamp_min(1e-30);
  at::Tensor perp = d - (d * a).sum(-1, true) / a2 * a;
  return perp.pow(2).sum(-1) / (2 * a2.squeeze(-1));
}

// Σ w (x - Σ w x)^2 per row.
at::Tensor WeightedVar(const at::Tensor& w, const at::Tensor& x) {
  at::Tensor mean = (w * x).sum(-1, true);
  return (w * (x - mean).pow(2)).sum(-1);
}

// Σ p log p with 0 log 0 = 0.
at::Tensor PLogP(const at::Tensor& p, const at::Tensor& logp) {
  return torch::where(p > 0, p * logp, torch::zeros_like(p)).sum(-1);
}

}  // namespace

absl::Status ValidateTemperatures(const std::vector<double>& temperatures) {
  if (temperatures.empty()) return absl::InvalidArgumentError("no temperatures given");
  for (double t : temperatures) {
    if (!std::isfinite(t) || t <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("temperature must be > 0, got ", t));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<VectorStats>> CompareVectors(const at::Tensor& a_in,
                                                        const at::Tensor& b_in) {
  if (a_in.sizes() != b_in.sizes() || a_in.dim() != 2) {
    return absl::InvalidArgumentError("CompareVectors needs two (N, D) tensors of one shape");
  }
  c10::InferenceMode guard;
  at::Tensor a = a_in.to(torch::kDouble), b = b_in.to(torch::kDouble);
  at::Tensor na = a.norm(2, -1), nb = b.norm(2, -1);
  at::Tensor all =
      torch::stack({Ang(a, b), AngPred(a, b), na, nb, (b - a).norm(2, -1) / na.clamp_min(1e-300)},
                   1)
          .cpu();
  auto acc = all.accessor<double, 2>();
  std::vector<VectorStats> out(a.size(0));
  for (int64_t i = 0; i < a.size(0); ++i) {
    out[i] = {acc[i][0], acc[i][1], acc[i][2], acc[i][3], acc[i][4]};
  }
  return out;
}

absl::StatusOr<std::vector<RowStats>> CompareLogits(const at::Tensor& z_a_in,
                                                    const at::Tensor& z_b_in,
                                                    const CompareOptions& options) {
  if (z_a_in.sizes() != z_b_in.sizes() || z_a_in.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits must be two (N, V) tensors of one shape; got ", z_a_in.sizes().size(),
                     "-d and ", z_b_in.sizes().size(), "-d"));
  }
  PG_RETURN_IF_ERROR(ValidateTemperatures(options.temperatures));
  const int64_t n = z_a_in.size(0), v = z_a_in.size(1);
  if (options.top_k < 1 || options.top_k > v) {
    return absl::InvalidArgumentError(absl::StrCat("top_k must be in [1, ", v, "]"));
  }
  if (!options.reference_ids.empty()) {
    if (static_cast<int64_t>(options.reference_ids.size()) != n) {
      return absl::InvalidArgumentError("one reference id per row is needed");
    }
    for (int64_t id : options.reference_ids) {
      if (id < 0 || id >= v) {
        return absl::InvalidArgumentError(
            absl::StrCat("reference id ", id, " outside [0, ", v, ")"));
      }
    }
  }
  c10::InferenceMode guard;
  at::Tensor z_a = z_a_in.to(torch::kFloat), z_b = z_b_in.to(torch::kFloat);
  std::vector<at::Tensor> cols;
  // Logit space, temperature-free. Everything vocabulary-sized stays float32 (the unit-vector
  // form of ang has no cancellation); only the per-row results are widened.
  const at::Tensor na = z_a.norm(2, -1);
  cols.push_back(Ang(z_a, z_b));
  cols.push_back(AngPred(z_a, z_b));
  cols.push_back(na);
  cols.push_back(z_b.norm(2, -1));
  cols.push_back((z_b - z_a).norm(2, -1) / na.clamp_min(1e-30));
  at::Tensor top_a = z_a.argmax(-1), top_b = z_b.argmax(-1);
  cols.push_back(top_a.to(torch::kFloat));  // exact below 2^24
  cols.push_back(top_b.to(torch::kFloat));
  at::Tensor ka = std::get<1>(z_a.topk(options.top_k, -1)),
             kb = std::get<1>(z_b.topk(options.top_k, -1));
  at::Tensor overlap = (ka.unsqueeze(2) == kb.unsqueeze(1)).any(2).sum(-1);  // counts
  cols.push_back(overlap);
  const at::Tensor delta = z_b - z_a;
  at::Tensor ref;
  if (!options.reference_ids.empty()) {
    ref = torch::tensor(options.reference_ids, torch::kLong).to(z_a.device()).view({n, 1});
  }
  const size_t fixed = cols.size();
  for (double t : options.temperatures) {
    at::Tensor lp = torch::log_softmax(z_a / t, -1), lq = torch::log_softmax(z_b / t, -1);
    at::Tensor p = lp.exp(), q = lq.exp();
    at::Tensor kl = (p * (lp - lq)).sum(-1);
    at::Tensor r = p.pow(2);
    r = r / r.sum(-1, true);
    // JS with m = (p + q) / 2; terms where the two log-probabilities are equal contribute 0.
    at::Tensor lm = torch::logaddexp(lp, lq) - std::log(2.0);
    at::Tensor same = lp == lq;
    at::Tensor zero = torch::zeros_like(p);
    at::Tensor js = 0.5 * (torch::where(same, zero, p * (lp - lm)).sum(-1) +
                           torch::where(same, zero, q * (lq - lm)).sum(-1));
    cols.push_back(kl);
    cols.push_back(WeightedVar(p, delta) / (2 * t * t));
    cols.push_back(Ang(p, q));
    cols.push_back(WeightedVar(r, delta) / (2 * t * t));
    cols.push_back(js);
    cols.push_back(0.5 * (p - q).abs().sum(-1));
    cols.push_back(-PLogP(p, lp));
    cols.push_back(-PLogP(q, lq));
    cols.push_back(ref.defined() ? (q.gather(1, ref) - p.gather(1, ref)).squeeze(1)
                                 : torch::zeros({n}, z_a.options()));
  }
  at::Tensor all =
      torch::stack(cols, 1).to(torch::kDouble).cpu();  // (N, fixed + 9 T): one transfer
  auto acc = all.accessor<double, 2>();
  std::vector<RowStats> out(n);
  for (int64_t i = 0; i < n; ++i) {
    RowStats& row = out[i];
    row.logits.vector = {acc[i][0], acc[i][1], acc[i][2], acc[i][3], acc[i][4]};
    row.logits.top1_a = static_cast<int64_t>(acc[i][5]);
    row.logits.top1_b = static_cast<int64_t>(acc[i][6]);
    row.logits.top1_agree = row.logits.top1_a == row.logits.top1_b;
    row.logits.topk_overlap = acc[i][7] / options.top_k;
    for (size_t k = 0; k < options.temperatures.size(); ++k) {
      const size_t c = fixed + 9 * k;
      ProbStats s;
      s.temperature = options.temperatures[k];
      s.kl = acc[i][c];
      s.kl_pred = acc[i][c + 1];
      s.ang = acc[i][c + 2];
      s.ang_pred = acc[i][c + 3];
      s.js = acc[i][c + 4];
      s.tv = acc[i][c + 5];
      s.entropy_a = acc[i][c + 6];
      s.entropy_b = acc[i][c + 7];
      s.dp_ref = acc[i][c + 8];
      row.probs.push_back(s);
    }
  }
  return out;
}

absl::StatusOr<std::vector<SubspaceStats>> CompareSubspace(
    const at::Tensor& z_a, const at::Tensor& z_b, const std::vector<int64_t>& candidates,
    const std::vector<double>& temperatures) {
  PG_RETURN_IF_ERROR(ValidateTemperatures(temperatures));
  if (candidates.size() < 2) return absl::InvalidArgumentError("need at least 2 candidates");
  if (z_a.dim() != 1 || z_a.sizes() != z_b.sizes()) {
    return absl::InvalidArgumentError("subspace statistics need two (V) logit vectors");
  }
  for (int64_t id : candidates) {
    if (id < 0 || id >= z_a.size(0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("candidate id ", id, " outside the vocabulary"));
    }
  }
  c10::InferenceMode guard;
  at::Tensor idx = torch::tensor(candidates, torch::kLong).to(z_a.device());
  at::Tensor ca = z_a.index_select(0, idx).to(torch::kDouble).cpu();
  at::Tensor cb = z_b.index_select(0, idx).to(torch::kDouble).cpu();
  std::vector<SubspaceStats> out;
  for (double t : temperatures) {
    at::Tensor lp = torch::log_softmax(ca / t, 0), lq = torch::log_softmax(cb / t, 0);
    at::Tensor p = lp.exp(), q = lq.exp();
    SubspaceStats s;
    s.temperature = t;
    s.kl = (p * (lp - lq)).sum().item<double>();
    s.ang = Ang(p.view({1, -1}), q.view({1, -1})).item<double>();
    s.argmax_a = ca.argmax().item<int64_t>();
    s.argmax_b = cb.argmax().item<int64_t>();
    s.argmax_agree = s.argmax_a == s.argmax_b;
    s.p.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    s.q.assign(q.data_ptr<double>(), q.data_ptr<double>() + q.numel());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace prunegate::probe
