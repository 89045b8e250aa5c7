#include "server/probe/layer_probe.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/probe/pair_check.h"
#include "torch/torch.h"

namespace prunegate::probe {

bool SharesSublayer(const LayerWeights& a, const LayerWeights& b, Sublayer sublayer) {
  auto same = [](const at::Tensor& x, const at::Tensor& y) {
    return x.defined() == y.defined() && (!x.defined() || x.is_same(y));
  };
  if (sublayer == Sublayer::kAttention) {
    return same(a.input_norm, b.input_norm) && same(a.q_proj, b.q_proj) &&
           same(a.k_proj, b.k_proj) && same(a.v_proj, b.v_proj) && same(a.o_proj, b.o_proj) &&
           same(a.q_bias, b.q_bias) && same(a.k_bias, b.k_bias) && same(a.v_bias, b.v_bias) &&
           same(a.o_bias, b.o_bias);
  }
  return same(a.post_attention_norm, b.post_attention_norm) && same(a.gate_proj, b.gate_proj) &&
         same(a.up_proj, b.up_proj) && same(a.down_proj, b.down_proj) &&
         same(a.gate_bias, b.gate_bias) && same(a.up_bias, b.up_bias) &&
         same(a.down_bias, b.down_bias);
}

absl::StatusOr<std::unique_ptr<LayerProbe>> LayerProbe::Create(
    std::shared_ptr<const Model> baseline, std::shared_ptr<const Model> candidate,
    const LayerProbeOptions& options) {
  PG_RETURN_IF_ERROR(CheckPair(baseline->config(), candidate->config(), PairNeeds::kLayout));
  PG_RETURN_IF_ERROR(ValidateTemperatures(options.temperatures));
  if (options.top_k < 1 || options.top_k > baseline->config().vocab_size) {
    return absl::InvalidArgumentError("top_k must be in [1, vocab_size]");
  }
  if (baseline->device() != candidate->device()) {
    return absl::InvalidArgumentError("baseline and candidate must be on the same device");
  }
  std::unique_ptr<LayerProbe> p(new LayerProbe());
  p->a_ = baseline;
  p->b_ = candidate;
  p->options_ = options;
  const ModelConfig& c = baseline->config();
  p->cache_a_ = KvCache(baseline->num_layers(), 1, c.num_key_value_heads, c.head_dim);
  p->cache_b_ = KvCache(candidate->num_layers(), 1, c.num_key_value_heads, c.head_dim);
  for (int l = 0; l < baseline->num_layers(); ++l) {
    const LayerWeights& la = baseline->weights().layers[l];
    const LayerWeights& lb = candidate->weights().layers[l];
    p->attention_shared_.push_back(SharesSublayer(la, lb, Sublayer::kAttention));
    p->mlp_shared_.push_back(SharesSublayer(la, lb, Sublayer::kMlp));
  }
  return p;
}

absl::StatusOr<std::vector<SublayerRecord>> LayerProbe::Feed(
    const std::vector<int64_t>& ids, const std::function<bool()>& cancelled) {
  const ModelConfig& c = a_->config();
  if (ids.empty()) return absl::InvalidArgumentError("no tokens to probe");
  PG_RETURN_IF_ERROR(CheckTokenIds(ids, c.vocab_size));
  const int64_t s = ids.size();
  if (length_ + s > c.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat("probe would reach ", length_ + s,
                                                   " tokens, beyond max_position_embeddings ",
                                                   c.max_position_embeddings));
  }
  c10::InferenceMode guard;
  const auto device = a_->device();
  ForwardInput in{torch::tensor(ids, torch::kLong).view({1, s}).to(device),
                  torch::arange(length_, length_ + s, torch::kLong).view({1, s}).to(device),
                  at::Tensor()};
  AttentionContext ctx_a = Transformer::Prepare(*a_, in, &cache_a_);
  AttentionContext ctx_b = Transformer::Prepare(*b_, in, &cache_b_);
  const int64_t first = options_.all_positions ? 0 : s - 1;
  const int64_t rows = s - first;

  // Lens inputs: the distinct hidden rows, each projected once. HA block k (the baseline's h_a of
  // record block k) is rows [k*rows, (k+1)*rows); hb_index names the row of every h_b: its own
  // h_a when the sublayer is shared (f_b = f_a), the previous h_a when the candidate dropped it
  // (h_b = x), else a row of its own appended after all HA blocks.
  std::vector<at::Tensor> lens_rows, hb_new;
  std::vector<int64_t> hb_index;
  std::vector<SublayerRecord> meta;
  const bool propagate = options_.mode == LayerProbeMode::kPropagated;
  std::vector<Perturbed> perturbed;  // kPropagated: streams to carry on, one per changed sublayer
  at::Tensor h = Transformer::Embed(*a_, in.ids);
  int64_t block = 0;  // record blocks (sublayers) so far
  const int64_t n_ha = 2 * static_cast<int64_t>(a_->num_layers()) * rows;
  for (int layer = 0; layer < a_->num_layers(); ++layer) {
    if (cancelled && cancelled()) return absl::CancelledError("layer probe cancelled");
    for (Sublayer sub : {Sublayer::kAttention, Sublayer::kMlp}) {
      at::Tensor fa = Transformer::SublayerOutput(*a_, layer, sub, h, ctx_a, &cache_a_);
      const LayerWeights& lb = b_->weights().layers[layer];
      const bool present = sub == Sublayer::kAttention ? lb.has_attention() : lb.has_mlp();
      const bool shared =
          sub == Sublayer::kAttention ? attention_shared_[layer] : mlp_shared_[layer];
      at::Tensor x = h[0].narrow(0, first, rows);  // (rows, H): the probed positions
      at::Tensor ha = fa.defined() ? h + fa : h;
      lens_rows.push_back(ha[0].narrow(0, first, rows));
      int64_t hb_from = -1;  // first HA row h_b equals, or -1: a new row
      if (shared) {
        hb_from = block * rows;
      } else if (!present) {
        if (block > 0) {
          hb_from = (block - 1) * rows;  // x is the previous sublayer's h_a
        } else {
          hb_new.push_back(x);  // x is the embedding
        }
        if (propagate) perturbed.push_back({layer, sub, h, meta.size()});
      } else if (propagate) {
        // The whole stream h_b goes on through the baseline.
        at::Tensor hb = h + Transformer::SublayerOutput(*b_, layer, sub, h, ctx_b, &cache_b_);
        hb_new.push_back(hb[0].narrow(0, first, rows));
        perturbed.push_back({layer, sub, hb, meta.size()});
      } else if (sub == Sublayer::kMlp) {
        // Local mode needs f_b at the probed positions only: an MLP acts per position. At least
        // two rows when there are, so it takes the GEMM path as the baseline's forward does (one
        // row goes to GEMV, which rounds differently): an unshared copy still gives exact zeros.
        const int64_t m = std::min(s, std::max<int64_t>(rows, 2));
        at::Tensor fb =
            Transformer::SublayerOutput(*b_, layer, sub, h.narrow(1, s - m, m), ctx_b, &cache_b_);
        hb_new.push_back(x + fb[0].narrow(0, m - rows, rows));
      } else {
        // Attention: every fed position writes the candidate's cache.
        at::Tensor fb = Transformer::SublayerOutput(*b_, layer, sub, h, ctx_b, &cache_b_);
        hb_new.push_back(x + fb[0].narrow(0, first, rows));
      }
      if (hb_from < 0) hb_from = n_ha + static_cast<int64_t>(hb_new.size() - 1) * rows;
      for (int64_t r = 0; r < rows; ++r) hb_index.push_back(hb_from + r);
      for (int64_t r = 0; r < rows; ++r) {
        SublayerRecord rec;
        rec.layer = layer;
        rec.sublayer = sub;
        rec.position = length_ + first + r;
        rec.dropped = !present;
        rec.shared = shared;
        meta.push_back(rec);
      }
      h = ha;
      ++block;
    }
  }
  // h_b carried on through the rest of the baseline; shared sublayers keep the baseline output.
  at::Tensor final_a, final_b;
  if (propagate) {
    final_a = h[0].narrow(0, first, rows);
    std::vector<at::Tensor> outs(meta.size() / rows, final_a);
    PG_RETURN_IF_ERROR(Propagate(perturbed, ctx_a, first, rows, cancelled, &outs));
    final_b = torch::cat(outs, 0);
    final_a = final_a.repeat({static_cast<int64_t>(outs.size()), 1});
  }
  Transformer::Commit(in, &cache_a_);
  Transformer::Commit(in, &cache_b_);
  length_ += s;
  last_logits_ = Transformer::Logits(*a_, h[0][s - 1]);

  // One batched lens product over the distinct rows: HA, then the candidate's own h_b rows.
  lens_rows.insert(lens_rows.end(), hb_new.begin(), hb_new.end());
  const at::Tensor U = torch::cat(lens_rows, 0);  // (n_ha + new, H)
  bool hb_all_new = static_cast<int64_t>(hb_new.size()) * rows == n_ha;
  for (int64_t i = 0; hb_all_new && i < n_ha; ++i) hb_all_new = hb_index[i] == n_ha + i;
  const at::Tensor hb_rows_index =
      hb_all_new ? at::Tensor() : torch::tensor(hb_index, torch::kLong).to(device);
  auto hb_of = [&](const at::Tensor& rows_of_u) {  // (n_ha, ...) h_b rows of a tensor over U
    return hb_all_new ? rows_of_u.narrow(0, n_ha, n_ha) : rows_of_u.index_select(0, hb_rows_index);
  };
  const at::Tensor HA = U.narrow(0, 0, n_ha), HB = hb_of(U);
  const at::Tensor Z = options_.lens == Lens::kNormHead
                           ? Transformer::Logits(*a_, U)
                           : Transformer::LmHead(*a_, U).to(torch::kFloat);  // (rows of U, V)
  PG_ASSIGN_OR_RETURN(std::vector<VectorStats> hidden, CompareVectors(HA, HB));
  CompareOptions co;
  co.temperatures = options_.temperatures;
  co.top_k = options_.top_k;
  co.reference_top1_a = true;  // Δp of the baseline's own top-1 token at each row
  PG_ASSIGN_OR_RETURN(std::vector<RowStats> lens_stats,
                      CompareLogits(Z.narrow(0, 0, n_ha), hb_of(Z), co));
  for (size_t i = 0; i < meta.size(); ++i) {
    meta[i].hidden = hidden[i];
    meta[i].lens = std::move(lens_stats[i]);
  }
  if (propagate) {
    PG_ASSIGN_OR_RETURN(
        std::vector<VectorStats> out_hidden,
        CompareVectors(Transformer::FinalNorm(*a_, final_a), Transformer::FinalNorm(*a_, final_b)));
    PG_ASSIGN_OR_RETURN(
        std::vector<RowStats> out_stats,
        CompareLogits(Transformer::Logits(*a_, final_a), Transformer::Logits(*a_, final_b), co));
    for (size_t i = 0; i < meta.size(); ++i) {
      meta[i].has_propagated = true;
      meta[i].propagated_hidden = out_hidden[i];
      meta[i].propagated = std::move(out_stats[i]);
    }
  }
  return meta;
}

absl::Status LayerProbe::Propagate(const std::vector<Perturbed>& perturbed,
                                   const AttentionContext& ctx, int64_t first, int64_t rows,
                                   const std::function<bool()>& cancelled,
                                   std::vector<at::Tensor>* outs) {
  if (perturbed.empty()) return absl::OkStatus();
  // The walk left the baseline's keys and values of the fed tokens in the pending slots; each
  // propagation overwrites those of the layers it passes (before reading them), so keep a copy
  // and put it back afterwards. Earlier tokens' slots are never written.
  const int64_t pending = ctx.pending;
  std::vector<at::Tensor> saved_k, saved_v;
  for (int l = 0; l < a_->num_layers(); ++l) {
    if (!a_->weights().layers[l].has_attention()) {
      saved_k.emplace_back();
      saved_v.emplace_back();
      continue;
    }
    const int64_t total = cache_a_.length() + pending;
    saved_k.push_back(cache_a_.keys(l, pending).narrow(2, total - pending, pending).clone());
    saved_v.push_back(cache_a_.values(l, pending).narrow(2, total - pending, pending).clone());
  }
  for (const Perturbed& p : perturbed) {
    if (cancelled && cancelled()) return absl::CancelledError("layer probe cancelled");
    at::Tensor x = p.stream;
    for (int layer = p.layer; layer < a_->num_layers(); ++layer) {
      for (Sublayer sub : {Sublayer::kAttention, Sublayer::kMlp}) {
        if (layer == p.layer && (sub == p.sublayer || sub == Sublayer::kAttention)) continue;
        at::Tensor f = Transformer::SublayerOutput(*a_, layer, sub, x, ctx, &cache_a_);
        if (f.defined()) x = x + f;
      }
    }
    (*outs)[p.record / rows] = x[0].narrow(0, first, rows);
  }
  for (int l = 0; l < a_->num_layers(); ++l) {
    if (saved_k[l].defined()) cache_a_.Write(l, saved_k[l], saved_v[l]);
  }
  return absl::OkStatus();
}

}  // namespace prunegate::probe
