#include "bench/bench_util.h"

#include <chrono>
#include <thread>
#include <vector>

#include "server/model/device.h"
#include "torch/torch.h"

namespace prunegate::bench {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

absl::StatusOr<std::shared_ptr<const Model>> RandomModel(const ModelShape& s, uint64_t seed) {
  auto dtype = ParseDType(s.dtype);
  if (!dtype.ok()) return dtype.status();
  ModelConfig c;
  c.architecture = s.architecture == "llama"     ? Architecture::kLlama
                   : s.architecture == "mistral" ? Architecture::kMistral
                                                 : Architecture::kQwen2;
  c.qkv_bias = c.architecture == Architecture::kQwen2;
  c.vocab_size = s.vocab;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.intermediate;
  c.num_hidden_layers = s.layers;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.head_dim = s.hidden / s.heads;
  c.max_position_embeddings = 32768;
  c.tie_word_embeddings = s.tied;
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  auto opts = torch::TensorOptions().dtype(*dtype);
  auto w = [&](std::vector<int64_t> shape) { return torch::randn(shape, opts) * 0.02; };
  auto ones = [&](int64_t n) { return torch::ones({n}, opts); };
  const int64_t H = c.hidden_size, Q = c.q_dim(), K = c.kv_dim(), I = c.intermediate_size;
  ModelWeights m;
  m.embed_tokens = w({c.vocab_size, H});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights l;
    l.input_norm = ones(H);
    l.q_proj = w({Q, H});
    l.k_proj = w({K, H});
    l.v_proj = w({K, H});
    l.o_proj = w({H, Q});
    if (c.qkv_bias) {
      l.q_bias = w({Q});
      l.k_bias = w({K});
      l.v_bias = w({K});
    }
    l.post_attention_norm = ones(H);
    l.gate_proj = w({I, H});
    l.up_proj = w({I, H});
    l.down_proj = w({H, I});
    m.layers.push_back(std::move(l));
  }
  m.final_norm = ones(H);
  m.lm_head = c.tie_word_embeddings ? m.embed_tokens : w({c.vocab_size, H});
  return Model::FromWeights(c, std::move(m), "random");
}

int64_t DecodeWeightBytes(const Model& model) {
  int64_t bytes = 0;
  for (const LayerWeights& l : model.weights().layers) {
    for (const at::Tensor* t :
         {&l.input_norm, &l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.q_bias, &l.k_bias,
          &l.v_bias, &l.o_bias, &l.post_attention_norm, &l.gate_proj, &l.up_proj, &l.down_proj,
          &l.gate_bias, &l.up_bias, &l.down_bias}) {
      if (t->defined()) bytes += t->nbytes();
    }
  }
  const ModelWeights& w = model.weights();
  return bytes + w.final_norm.nbytes() + w.lm_head.nbytes() +
         w.embed_tokens.size(1) * w.embed_tokens.element_size();
}

double MeasureReadBandwidth(int threads, size_t bytes, int repeats) {
  threads = std::max(threads, 1);
  const size_t n = bytes / sizeof(float);
  // Distinct values on every page: a constant fill can be merged by the host's page
  // deduplication (seen here: a 1 GiB buffer of 1.0f "read" at 59 GB/s).
  std::vector<float> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<float>(i % 65521) * 1e-3f;
  double best = 0;
  std::vector<double> partial(threads);
  for (int r = 0; r < repeats; ++r) {
    const double t0 = Now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t begin = n * t / threads, end = n * (t + 1) / threads;
        // Eight independent accumulators so the loop is bound by loads, not by add latency.
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t i = begin;
        for (; i + 8 <= end; i += 8) {
          for (int k = 0; k < 8; ++k) acc[k] += buf[i + k];
        }
        for (; i < end; ++i) acc[0] += buf[i];
        double s = 0;
        for (float a : acc) s += a;
        partial[t] = s;
      });
    }
    for (auto& th : pool) th.join();
    const double dt = Now() - t0;
    best = std::max(best, static_cast<double>(n * sizeof(float)) / dt);
  }
  volatile double sink = partial[0];
  (void)sink;
  return best;
}

}  // namespace prunegate::bench
