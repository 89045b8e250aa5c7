#include "server/model/transformer.h"

#include <cmath>
#include <limits>

#include "torch/torch.h"

namespace prunegate {

const char* SublayerName(Sublayer s) { return s == Sublayer::kAttention ? "attention" : "mlp"; }

at::Tensor Transformer::RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor xf = x.to(torch::kFloat);
  at::Tensor var = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * torch::rsqrt(var + eps)).to(x.scalar_type());
}

at::Tensor Transformer::RopeInvFreq(const ModelConfig& c) {
  const int64_t d = c.head_dim;
  auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  at::Tensor exponent =
      torch::arange(0, d, 2, torch::TensorOptions().dtype(torch::kLong)).to(torch::kFloat) /
      static_cast<float>(d);
  at::Tensor inv = 1.0 / torch::pow(torch::tensor(static_cast<float>(c.rope_theta), f32), exponent);
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == RopeScalingType::kLinear) {
    inv = inv / rs.factor;
  } else if (rs.type == RopeScalingType::kLlama3) {
    const double old_len = static_cast<double>(rs.original_max_position_embeddings);
    const double low_wavelen = old_len / rs.low_freq_factor;
    const double high_wavelen = old_len / rs.high_freq_factor;
    at::Tensor wavelen = 2 * M_PI / inv;
    at::Tensor scaled = torch::where(wavelen > low_wavelen, inv / rs.factor, inv);
    at::Tensor smooth =
        (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
    at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    inv = torch::where(medium, smoothed, scaled);
  }
  return inv;
}

AttentionContext Transformer::Prepare(const Model& model, const ForwardInput& in, KvCache* cache) {
  const ModelConfig& c = model.config();
  const int64_t b = in.ids.size(0), s = in.ids.size(1);
  auto opts = torch::TensorOptions().dtype(model.dtype()).device(model.device());
  if (cache != nullptr) cache->Reserve(s, opts);

  AttentionContext ctx;
  ctx.pending = s;
  // HF: freqs = inv_freq (x) positions in float32, emb = cat(freqs, freqs), cos/sin cast to dtype.
  at::Tensor inv = RopeInvFreq(c).to(model.device());
  at::Tensor freqs = in.positions.to(torch::kFloat).unsqueeze(-1) * inv;  // (B, S, D/2)
  at::Tensor emb = torch::cat({freqs, freqs}, -1);
  ctx.cos = emb.cos().to(model.dtype()).unsqueeze(1);
  ctx.sin = emb.sin().to(model.dtype()).unsqueeze(1);

  const int64_t past = cache != nullptr ? cache->length() : 0;
  const int64_t total = past + s;
  at::Tensor valid = in.valid.defined() ? in.valid : torch::ones({b, s}, opts.dtype(torch::kBool));
  at::Tensor key_valid =
      cache != nullptr ? torch::cat({cache->valid(), valid}, 1) : valid;  // (B, L)
  const bool any_padding = !key_valid.all().item<bool>();
  const bool window = c.sliding_window > 0 && total > c.sliding_window;
  if (s == 1 && !any_padding && !window) return ctx;  // one new token sees everything

  auto long_opts = opts.dtype(torch::kLong);
  at::Tensor q_slot = torch::arange(past, total, long_opts).view({1, s, 1});
  at::Tensor k_slot = torch::arange(0, total, long_opts).view({1, 1, total});
  at::Tensor mask = k_slot <= q_slot;  // (1, S, L): causal only, shared by the batch
  if (any_padding) mask = mask & key_valid.unsqueeze(1);  // (B, S, L)
  if (window) {
    at::Tensor key_pos = cache != nullptr ? torch::cat({cache->positions(), in.positions}, 1)
                                          : in.positions;  // (B, L)
    mask = mask & ((in.positions.unsqueeze(2) - key_pos.unsqueeze(1)) < c.sliding_window);
  }
  // A padding query row may see nothing; let it see itself so softmax stays finite.
  if (any_padding) mask = mask | (k_slot == q_slot);
  ctx.mask = mask.view({mask.size(0), 1, 1, s, total});
  return ctx;
}

void Transformer::Commit(const ForwardInput& in, KvCache* cache) {
  at::Tensor valid = in.valid.defined()
                         ? in.valid
                         : torch::ones(in.ids.sizes(), in.ids.options().dtype(torch::kBool));
  if (cache != nullptr) cache->Advance(in.positions, valid);
}

at::Tensor Transformer::Embed(const Model& model, const at::Tensor& ids) {
  return torch::embedding(model.weights().embed_tokens, ids);
}

namespace {

// y = x W^T + b. A single row (decode of one sequence) goes to a matrix-vector product: BLAS
// GEMM packs the whole weight for one row (~4x slower, measured), GEMV streams it once.
at::Tensor Linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {}) {
  const int64_t k = x.size(-1);
  if (x.numel() == k && x.is_contiguous()) {
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = w.size(0);
    at::Tensor y = b.defined() ? torch::addmv(b, w, x.view({k})) : torch::mv(w, x.view({k}));
    return y.view(shape);
  }
  return torch::linear(x, w, b);
}

at::Tensor RotateHalf(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

at::Tensor Attention(const Model& model, const LayerWeights& l, int layer, const at::Tensor& n,
                     const AttentionContext& ctx, KvCache* cache) {
  const ModelConfig& c = model.config();
  const int64_t b = n.size(0), s = n.size(1), d = c.head_dim;
  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads, rep = hq / hkv;
  at::Tensor q = Linear(n, l.q_proj, l.q_bias).view({b, s, hq, d}).transpose(1, 2);
  at::Tensor k = Linear(n, l.k_proj, l.k_bias).view({b, s, hkv, d}).transpose(1, 2);
  at::Tensor v = Linear(n, l.v_proj, l.v_bias).view({b, s, hkv, d}).transpose(1, 2);
  q = q * ctx.cos + RotateHalf(q) * ctx.sin;
  k = k * ctx.cos + RotateHalf(k) * ctx.sin;
  at::Tensor keys = k, values = v;  // (B, KVH, L, D)
  if (cache != nullptr) {
    cache->Write(layer, k, v);
    keys = cache->keys(layer, ctx.pending);
    values = cache->values(layer, ctx.pending);
  }
  const int64_t total = keys.size(2);
  // Group the query heads that share a key/value head: (B, KVH, rep*S, D).
  // Scaling the queries instead of the (rep*S x L) scores: same math, D/L of the work.
  at::Tensor qg = (q * (1.0 / std::sqrt(double(d)))).reshape({b, hkv, rep * s, d});
  at::Tensor scores = torch::matmul(qg, keys.transpose(-1, -2));
  if (ctx.mask.defined()) {
    scores = scores.view({b, hkv, rep, s, total})
                 .masked_fill(ctx.mask.logical_not(), -std::numeric_limits<float>::infinity())
                 .view({b, hkv, rep * s, total});
  }
  at::Tensor probs = torch::softmax(scores, -1, torch::kFloat).to(n.scalar_type());
  at::Tensor out = torch::matmul(probs, values)  // (B, KVH, rep*S, D)
                       .view({b, hq, s, d})
                       .transpose(1, 2)
                       .reshape({b, s, hq * d});
  return Linear(out, l.o_proj, l.o_bias);
}

at::Tensor Mlp(const LayerWeights& l, const at::Tensor& n) {
  at::Tensor gate = torch::silu(Linear(n, l.gate_proj, l.gate_bias));
  return Linear(gate * Linear(n, l.up_proj, l.up_bias), l.down_proj, l.down_bias);
}

}  // namespace

at::Tensor Transformer::SublayerOutput(const Model& model, int layer, Sublayer sublayer,
                                       const at::Tensor& x, const AttentionContext& ctx,
                                       KvCache* cache) {
  const LayerWeights& l = model.weights().layers[layer];
  const double eps = model.config().rms_norm_eps;
  if (sublayer == Sublayer::kAttention) {
    if (!l.has_attention()) return at::Tensor();
    return Attention(model, l, layer, RmsNorm(x, l.input_norm, eps), ctx, cache);
  }
  if (!l.has_mlp()) return at::Tensor();
  return Mlp(l, RmsNorm(x, l.post_attention_norm, eps));
}

at::Tensor Transformer::FinalNorm(const Model& model, const at::Tensor& h) {
  return RmsNorm(h, model.weights().final_norm, model.config().rms_norm_eps);
}

at::Tensor Transformer::LmHead(const Model& model, const at::Tensor& normed) {
  return Linear(normed, model.weights().lm_head);
}

at::Tensor Transformer::Logits(const Model& model, const at::Tensor& h) {
  return LmHead(model, FinalNorm(model, h)).to(torch::kFloat);
}

at::Tensor Transformer::Forward(const Model& model, const ForwardInput& input, KvCache* cache,
                                SublayerTap* tap) {
  AttentionContext ctx = Prepare(model, input, cache);
  at::Tensor h = Embed(model, input.ids);
  for (int layer = 0; layer < model.num_layers(); ++layer) {
    for (Sublayer sub : {Sublayer::kAttention, Sublayer::kMlp}) {
      at::Tensor out = SublayerOutput(model, layer, sub, h, ctx, cache);
      if (tap != nullptr) tap->OnSublayer(layer, sub, h, out);
      if (out.defined()) h = h + out;
    }
  }
  Commit(input, cache);
  return h;
}

}  // namespace prunegate
