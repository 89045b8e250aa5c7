#include "server/probe/stats.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/probe/pair_check.h"
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

}  // namespace

at::Tensor KlDivergenceRows(const at::Tensor& p, const at::Tensor& log_p, const at::Tensor& log_q,
                            const at::Tensor& delta, double temperature, at::Tensor work1,
                            at::Tensor work2) {
  if (!work1.defined()) work1 = at::empty_like(p);
  if (!work2.defined()) work2 = at::empty_like(p);
  const at::Tensor mean = at::mul_out(work1, p, delta).sum(-1, true).div_(temperature);
  at::Tensor u = at::div_out(work1, delta, temperature).sub_(mean);
  at::Tensor kl = at::expm1_out(work2, u).sub_(u).mul_(p).sum(-1).log1p_();
  // The textbook pass only when some row needs it (one flag read back, not a vocabulary pass).
  const at::Tensor finite = at::isfinite(kl);
  if (finite.all().item<bool>()) return kl;
  at::Tensor plain = at::sub_out(work1, log_p, log_q).mul_(p).sum(-1).clamp_min_(0);
  return at::where(finite, kl, plain);
}

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
    if (options.reference_top1_a) {
      return absl::InvalidArgumentError("reference ids and reference_top1_a are exclusive");
    }
    if (static_cast<int64_t>(options.reference_ids.size()) != n) {
      return absl::InvalidArgumentError("one reference id per row is needed");
    }
    PG_RETURN_IF_ERROR(CheckTokenIds(options.reference_ids, v, "reference id"));
  }
  if (n == 0) return std::vector<RowStats>();
  c10::InferenceMode guard;
  const at::Tensor z_a = z_a_in.to(torch::kFloat), z_b = z_b_in.to(torch::kFloat);
  at::Tensor ref;
  if (!options.reference_ids.empty()) {
    ref = torch::tensor(options.reference_ids, torch::kLong).to(z_a.device()).view({n, 1});
  }
  // Everything vocabulary-sized stays float32 (the unit-vector form of ang has no cancellation);
  // only the per-row results are widened. The rows go through in chunks of about a megabyte
  // (on the CPU), so that the few vocabulary-sized work buffers, allocated once, stay in cache
  // and every step writes into them: no fresh tensor (and no page faults) per operation.
  const int64_t chunk_elements = z_a.is_cpu() ? int64_t{1} << 18 : int64_t{1} << 24;
  const int64_t chunk = std::clamp<int64_t>(chunk_elements / std::max<int64_t>(v, 1), 1, n);
  const size_t fixed = 8, per_t = 9;
  const int64_t cols = fixed + per_t * options.temperatures.size();
  at::Tensor all = torch::empty({n, cols}, z_a.options());  // (N, fixed + 9 T), on the device
  auto buffer = [&] { return torch::empty({chunk, v}, z_a.options()); };
  at::Tensor delta_buf = buffer(), lp_buf = buffer(), lq_buf = buffer(), p_buf = buffer(),
             q_buf = buffer(), t1_buf = buffer(), t2_buf = buffer();
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    const int64_t c = std::min(chunk, n - i0);
    auto rows = [&](const at::Tensor& x) { return x.narrow(0, 0, c); };
    const at::Tensor za = z_a.narrow(0, i0, c), zb = z_b.narrow(0, i0, c);
    at::Tensor delta = rows(delta_buf), lp = rows(lp_buf), lq = rows(lq_buf), p = rows(p_buf),
               q = rows(q_buf), t1 = rows(t1_buf), t2 = rows(t2_buf);
    at::Tensor out = all.narrow(0, i0, c);
    int64_t col = 0;
    auto put = [&](const at::Tensor& x) { out.select(1, col++).copy_(x); };
    // ang(x, y) per row, 1 - cos via unit vectors: |x/|x| - y/|y||^2 / 2.
    auto ang = [&](const at::Tensor& x, const at::Tensor& y, const at::Tensor& nx) {
      at::div_out(t1, x, nx.clamp_min(1e-30));
      at::div_out(t2, y, y.norm(2, -1, true).clamp_min(1e-30));
      return t1.sub_(t2).pow_(2).sum(-1) * 0.5;
    };
    // Σ w (x - Σ w x)^2 per row, for x = δ.
    auto weighted_var = [&](const at::Tensor& w) {
      at::Tensor mean = at::mul_out(t1, w, delta).sum(-1, true);
      return at::sub_out(t1, delta, mean).pow_(2).mul_(w).sum(-1);
    };
    // -Σ p log p with 0 log 0 = 0: p = exp(log p) makes p log p finite wherever p > 0, so
    // skipping NaN (0 * -inf, or a NaN p) is exactly where(p > 0, p log p, 0).
    auto entropy = [&](const at::Tensor& pr, const at::Tensor& logpr) {
      return -at::mul_out(t1, pr, logpr).nansum(-1);
    };

    // Logit space, temperature-free.
    const at::Tensor na = za.norm(2, -1, true);  // (c, 1)
    put(ang(za, zb, na));
    // ang_pred = |Δ⊥|^2 / (2 |a|^2), Δ⊥ = Δ - (<Δ, a> / |a|^2) a.
    at::sub_out(delta, zb, za);
    const at::Tensor a2 = at::pow_out(t1, za, 2).sum(-1, true).clamp_min(1e-30);
    const at::Tensor along = at::mul_out(t1, delta, za).sum(-1, true) / a2;
    at::sub_out(t1, delta, at::mul_out(t1, along, za));
    put(t1.pow_(2).sum(-1) / (2 * a2.squeeze(-1)));
    put(na.squeeze(-1));
    put(zb.norm(2, -1));
    put(delta.norm(2, -1) / na.squeeze(-1).clamp_min(1e-30));
    // Top-1 ids go through the float32 table: exact below 2^24.
    const at::Tensor top1_a = za.argmax(-1, /*keepdim=*/true);  // (c, 1)
    put(top1_a.squeeze(1));
    put(zb.argmax(-1));
    const at::Tensor r_ids = options.reference_top1_a ? top1_a
                             : ref.defined()          ? ref.narrow(0, i0, c)
                                                      : at::Tensor();
    const at::Tensor ka = std::get<1>(za.topk(options.top_k, -1)),
                     kb = std::get<1>(zb.topk(options.top_k, -1));
    put((ka.unsqueeze(2) == kb.unsqueeze(1)).any(2).sum(-1));  // overlap counts

    for (double t : options.temperatures) {
      at::log_softmax_out(lp, za / t, -1);
      at::log_softmax_out(lq, zb / t, -1);
      at::exp_out(p, lp);
      at::exp_out(q, lq);
      put(KlDivergenceRows(p, lp, lq, delta, t, t1, t2));  // KL = Σ p (log p - log q)
      put(weighted_var(p) / (2 * t * t));                  // Var_p(δ) / (2 T^2)
      put(ang(p, q, p.norm(2, -1, true)));
      at::Tensor r = at::pow_out(t2, p, 2);  // r = p^2 / |p|^2
      r.div_(r.sum(-1, true));
      put(weighted_var(r) / (2 * t * t));  // Var_r(δ) / (2 T^2)
      // JS with m = (p + q) / 2; terms where the two log-probabilities are equal contribute 0
      // (a 0/1 factor: exact for finite terms; rows with a NaN take the exact masked form).
      at::Tensor lm = at::logaddexp_out(t2, lp, lq).sub_(std::log(2.0));
      at::sub_out(t1, lp, lm).mul_(p);
      at::sub_out(t2, lq, lm).mul_(q);  // lm is dead after this
      t1.add_(t2);
      t1.mul_(at::ne_out(t2, lp, lq));
      at::Tensor js = 0.5 * t1.sum(-1);
      if (at::isnan(js).any().item<bool>()) {
        lm = at::logaddexp(lp, lq) - std::log(2.0);
        const at::Tensor same = lp == lq, zero = torch::zeros_like(p);
        js = 0.5 * (torch::where(same, zero, p * (lp - lm)).sum(-1) +
                    torch::where(same, zero, q * (lq - lm)).sum(-1));
      }
      put(js);
      put(0.5 * at::sub_out(t1, p, q).abs_().sum(-1));
      put(entropy(p, lp));
      put(entropy(q, lq));
      if (r_ids.defined()) {
        put((q.gather(1, r_ids) - p.gather(1, r_ids)).squeeze(1));
      } else {
        out.select(1, col++).zero_();
      }
    }
  }
  all = all.to(torch::kDouble).cpu();  // one transfer
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
      const size_t c = fixed + per_t * k;
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
    s.kl = KlDivergenceRows(p, lp, lq, cb - ca, t).item<double>();
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
