// The Llama-family forward pass with Hugging Face numerics (rotate-half RoPE, RMSNorm in float32,
// SiLU-gated MLP, grouped-query attention, optional sliding window), exposed piece by piece so a
// probe can walk one model's forward pass and evaluate another model's sublayers at the same
// residual points (with that model's own KV cache), instead of copying the forward pass.
//
//   h = embed(ids)
//   for each layer l:  h = h + attn_l(input_layernorm_l(h))       <- tap (l, kAttention)
//                      h = h + mlp_l(post_attention_layernorm_l(h)) <- tap (l, kMlp)
//   logits = lm_head(norm(h))
#ifndef PRUNEGATE_SERVER_MODEL_TRANSFORMER_H_
#define PRUNEGATE_SERVER_MODEL_TRANSFORMER_H_

#include "ATen/core/Tensor.h"
#include "server/model/kv_cache.h"
#include "server/model/model.h"

namespace prunegate {

enum class Sublayer { kAttention = 0, kMlp = 1 };
const char* SublayerName(Sublayer s);  // "attention" | "mlp"

// One forward call's tokens for a batch advancing in lockstep.
struct ForwardInput {
  at::Tensor ids;        // (B, S) int64
  at::Tensor positions;  // (B, S) int64, RoPE positions (padding slots: any value)
  at::Tensor valid;      // (B, S) bool, false for padding; undefined = all real tokens
};

// Hook at each (layer, sublayer) residual point. `residual` is the stream x entering the
// sublayer (B, S, H); `output` is f(norm(x)) (B, S, H), undefined for a dropped sublayer. A tap
// may read both and may assign `output` (same shape, dtype, device) to replace what is added:
// the stream continues as x + output (x alone when output is undefined).
class SublayerTap {
 public:
  virtual ~SublayerTap() = default;
  virtual void OnSublayer(int layer, Sublayer sublayer, const at::Tensor& residual,
                          at::Tensor& output) = 0;
};

// Per-forward state shared by every layer: RoPE tables for this step and the attention mask.
// Valid for any model with the same head_dim, RoPE settings and sliding window.
struct AttentionContext {
  at::Tensor cos, sin;  // (B, 1, S, D) in the model dtype
  at::Tensor mask;  // (B or 1, 1, 1, S, L) bool, true = may attend; undefined = attend to all
  int64_t pending = 0;  // S: slots being written this step
};

class Transformer {
 public:
  // Reserves S slots in `cache` and builds the context for feeding `input` after the cached
  // tokens. Call Commit after every layer has run. Every `cache` argument may be null: the
  // input then attends only to itself, with nothing stored (training, one-shot scoring).
  static AttentionContext Prepare(const Model& model, const ForwardInput& input, KvCache* cache);
  static void Commit(const ForwardInput& input, KvCache* cache);

  static at::Tensor Embed(const Model& model, const at::Tensor& ids);  // (B, S, H)
  // f(norm(x)) of one sublayer for residual x (B, S, H); undefined when the sublayer is dropped.
  // Attention writes this step's keys/values for `layer` into `cache`.
  static at::Tensor SublayerOutput(const Model& model, int layer, Sublayer sublayer,
                                   const at::Tensor& x, const AttentionContext& ctx,
                                   KvCache* cache);
  static at::Tensor FinalNorm(const Model& model, const at::Tensor& h);
  static at::Tensor LmHead(const Model& model, const at::Tensor& normed);  // (..., V)
  // LmHead(FinalNorm(h)) as float32.
  static at::Tensor Logits(const Model& model, const at::Tensor& h);

  // The whole stack: embeds, runs every layer (calling `tap` at each sublayer), commits the
  // cache, returns the last hidden state before the final norm, (B, S, H). Inputs must be
  // validated by the caller (Session does): ids in range, positions within the model's limit.
  static at::Tensor Forward(const Model& model, const ForwardInput& input, KvCache* cache,
                            SublayerTap* tap = nullptr);

  // RMSNorm as Hugging Face computes it: in float32, cast back, then times the weight.
  static at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);
  // Inverse RoPE frequencies (D/2) in float32 with linear / llama3 scaling applied.
  static at::Tensor RopeInvFreq(const ModelConfig& config);
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_TRANSFORMER_H_
