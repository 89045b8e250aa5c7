#include "server/model/weights.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace prunegate {

std::string LayerKey(int layer, const std::string& suffix) {
  return absl::StrCat("model.layers.", layer, ".", suffix);
}

namespace {

std::string ShapeString(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status Check(const std::string& key, const at::Tensor& t, std::vector<int64_t> expected,
                   bool required) {
  if (!t.defined()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("missing tensor ", key));
  }
  if (t.sizes() != c10::IntArrayRef(expected)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", key, " has shape ",
                                                   ShapeString(t.sizes()), ", expected ",
                                                   ShapeString(expected), " from config.json"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateWeights(const ModelConfig& c, const ModelWeights& w) {
  const int64_t H = c.hidden_size, Q = c.q_dim(), K = c.kv_dim(), I = c.intermediate_size,
                V = c.vocab_size;
  if (static_cast<int64_t>(w.layers.size()) != c.num_hidden_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model has ", w.layers.size(), " layers, config.json says ", c.num_hidden_layers));
  }
  auto check = [](const std::string& key, const at::Tensor& t, std::vector<int64_t> shape,
                  bool required) { return Check(key, t, std::move(shape), required); };
  if (auto s = check("model.embed_tokens.weight", w.embed_tokens, {V, H}, true); !s.ok()) return s;
  if (auto s = check("model.norm.weight", w.final_norm, {H}, true); !s.ok()) return s;
  if (auto s = check("lm_head.weight", w.lm_head, {V, H}, true); !s.ok()) return s;
  const bool qkv_bias = c.qkv_bias || c.attention_bias;
  for (int i = 0; i < static_cast<int>(w.layers.size()); ++i) {
    const LayerWeights& l = w.layers[i];
    const bool attn = l.has_attention() || l.input_norm.defined() || l.k_proj.defined() ||
                      l.v_proj.defined() || l.o_proj.defined();
    const bool mlp = l.has_mlp() || l.post_attention_norm.defined() || l.up_proj.defined() ||
                     l.down_proj.defined();
    std::vector<std::tuple<std::string, const at::Tensor*, std::vector<int64_t>, bool>> items;
    if (attn) {
      items.insert(items.end(), {{"input_layernorm.weight", &l.input_norm, {H}, true},
                                 {"self_attn.q_proj.weight", &l.q_proj, {Q, H}, true},
                                 {"self_attn.k_proj.weight", &l.k_proj, {K, H}, true},
                                 {"self_attn.v_proj.weight", &l.v_proj, {K, H}, true},
                                 {"self_attn.o_proj.weight", &l.o_proj, {H, Q}, true},
                                 {"self_attn.q_proj.bias", &l.q_bias, {Q}, qkv_bias},
                                 {"self_attn.k_proj.bias", &l.k_bias, {K}, qkv_bias},
                                 {"self_attn.v_proj.bias", &l.v_bias, {K}, qkv_bias},
                                 {"self_attn.o_proj.bias", &l.o_bias, {H}, c.attention_bias}});
    }
    if (mlp) {
      items.insert(items.end(),
                   {{"post_attention_layernorm.weight", &l.post_attention_norm, {H}, true},
                    {"mlp.gate_proj.weight", &l.gate_proj, {I, H}, true},
                    {"mlp.up_proj.weight", &l.up_proj, {I, H}, true},
                    {"mlp.down_proj.weight", &l.down_proj, {H, I}, true},
                    {"mlp.gate_proj.bias", &l.gate_bias, {I}, c.mlp_bias},
                    {"mlp.up_proj.bias", &l.up_bias, {I}, c.mlp_bias},
                    {"mlp.down_proj.bias", &l.down_bias, {H}, c.mlp_bias}});
    }
    for (auto& [suffix, t, shape, required] : items) {
      if (auto s = Check(LayerKey(i, suffix), *t, shape, required); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace prunegate
