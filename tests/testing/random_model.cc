#include "tests/testing/random_model.h"

#include "gtest/gtest.h"
#include "torch/torch.h"

namespace prunegate::testing {

ModelConfig SmallConfig() {
  ModelConfig c;
  c.vocab_size = 61;
  c.hidden_size = 32;
  c.intermediate_size = 40;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 128;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000;
  return c;
}

ModelWeights RandomWeights(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  auto w = [](std::vector<int64_t> shape, double scale) {
    return torch::randn(shape, torch::kFloat) * scale;
  };
  auto norm = [&](int64_t n) { return 1.0 + w({n}, 0.1); };
  const int64_t H = c.hidden_size, Q = c.q_dim(), K = c.kv_dim(), I = c.intermediate_size;
  ModelWeights m;
  m.embed_tokens = w({c.vocab_size, H}, 1.0);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights l;
    l.input_norm = norm(H);
    l.q_proj = w({Q, H}, 0.3);
    l.k_proj = w({K, H}, 0.3);
    l.v_proj = w({K, H}, 0.3);
    l.o_proj = w({H, Q}, 0.3);
    if (c.qkv_bias || c.attention_bias) {
      l.q_bias = w({Q}, 0.2);
      l.k_bias = w({K}, 0.2);
      l.v_bias = w({K}, 0.2);
    }
    if (c.attention_bias) l.o_bias = w({H}, 0.2);
    l.post_attention_norm = norm(H);
    l.gate_proj = w({I, H}, 0.3);
    l.up_proj = w({I, H}, 0.3);
    l.down_proj = w({H, I}, 0.3);
    m.layers.push_back(l);
  }
  m.final_norm = norm(H);
  m.lm_head = c.tie_word_embeddings ? m.embed_tokens : w({c.vocab_size, H}, 0.3);
  return m;
}

std::shared_ptr<const Model> MakeRandomModel(const ModelConfig& c, uint64_t seed) {
  auto m = Model::FromWeights(c, RandomWeights(c, seed));
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

}  // namespace prunegate::testing
