// The tensors of a Llama-family model, named by their Hugging Face role. Immutable once built;
// a derived (pruned) model shares every tensor it does not change with its baseline.
#ifndef PRUNEGATE_SERVER_MODEL_WEIGHTS_H_
#define PRUNEGATE_SERVER_MODEL_WEIGHTS_H_

#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/status.h"
#include "server/model/config.h"

namespace prunegate {

// One decoder layer. Shapes use H = hidden, Q = heads*head_dim, K = kv_heads*head_dim,
// I = intermediate. A dropped sublayer has all its tensors (norm included) undefined.
struct LayerWeights {
  // Attention sublayer: h = x + o_proj(attn(input_layernorm(x))).
  at::Tensor input_norm;              // (H)
  at::Tensor q_proj;                  // (Q, H)
  at::Tensor k_proj;                  // (K, H)
  at::Tensor v_proj;                  // (K, H)
  at::Tensor o_proj;                  // (H, Q)
  at::Tensor q_bias, k_bias, v_bias;  // (Q), (K), (K) — Qwen2 / attention_bias; else undefined
  at::Tensor o_bias;                  // (H) — attention_bias only
  // MLP sublayer: h = x + down(silu(gate(n)) * up(n)), n = post_attention_layernorm(x).
  at::Tensor post_attention_norm;            // (H)
  at::Tensor gate_proj;                      // (I, H)
  at::Tensor up_proj;                        // (I, H)
  at::Tensor down_proj;                      // (H, I)
  at::Tensor gate_bias, up_bias, down_bias;  // mlp_bias only

  bool has_attention() const { return q_proj.defined(); }
  bool has_mlp() const { return gate_proj.defined(); }
};

struct ModelWeights {
  at::Tensor embed_tokens;  // (V, H)
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;  // (H)
  at::Tensor lm_head;     // (V, H); the same storage as embed_tokens when tied
};

// Checks every defined tensor's shape (and presence of the required ones) against `config`;
// INVALID_ARGUMENT naming the tensor by its Hugging Face key and both shapes.
absl::Status ValidateWeights(const ModelConfig& config, const ModelWeights& weights);

// Visits every defined tensor with its Hugging Face key.
template <typename Fn>
void ForEachWeight(const ModelWeights& w, Fn&& fn);

// Hugging Face key of a layer tensor, e.g. LayerKey(3, "self_attn.q_proj.weight").
std::string LayerKey(int layer, const std::string& suffix);

// ---- implementation ----
template <typename Fn>
void ForEachWeight(const ModelWeights& w, Fn&& fn) {
  auto visit = [&](const std::string& key, const at::Tensor& t) {
    if (t.defined()) fn(key, t);
  };
  visit("model.embed_tokens.weight", w.embed_tokens);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const int li = static_cast<int>(i);
    visit(LayerKey(li, "input_layernorm.weight"), l.input_norm);
    visit(LayerKey(li, "self_attn.q_proj.weight"), l.q_proj);
    visit(LayerKey(li, "self_attn.k_proj.weight"), l.k_proj);
    visit(LayerKey(li, "self_attn.v_proj.weight"), l.v_proj);
    visit(LayerKey(li, "self_attn.o_proj.weight"), l.o_proj);
    visit(LayerKey(li, "self_attn.q_proj.bias"), l.q_bias);
    visit(LayerKey(li, "self_attn.k_proj.bias"), l.k_bias);
    visit(LayerKey(li, "self_attn.v_proj.bias"), l.v_bias);
    visit(LayerKey(li, "self_attn.o_proj.bias"), l.o_bias);
    visit(LayerKey(li, "post_attention_layernorm.weight"), l.post_attention_norm);
    visit(LayerKey(li, "mlp.gate_proj.weight"), l.gate_proj);
    visit(LayerKey(li, "mlp.up_proj.weight"), l.up_proj);
    visit(LayerKey(li, "mlp.down_proj.weight"), l.down_proj);
    visit(LayerKey(li, "mlp.gate_proj.bias"), l.gate_bias);
    visit(LayerKey(li, "mlp.up_proj.bias"), l.up_bias);
    visit(LayerKey(li, "mlp.down_proj.bias"), l.down_bias);
  }
  visit("model.norm.weight", w.final_norm);
  visit("lm_head.weight", w.lm_head);
}

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_WEIGHTS_H_
