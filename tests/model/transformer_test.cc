// The forward pass against a naive float64 reference written independently (per-head loops,
// explicit masks, RoPE from the formula), plus the properties the probes rely on: KV-cache
// decode == full recompute, left-padded batches == single sequences, taps read and replace.
#include "server/model/transformer.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "server/model/model.h"
#include "server/model/session.h"
#include "tests/testing/random_model.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate {
namespace {

using ::prunegate::testing::RandomWeights;
using ::prunegate::testing::SmallConfig;
using ::prunegate::testing::StatusIs;

std::shared_ptr<const Model> MakeModel(const ModelConfig& c, uint64_t seed = 7) {
  return ::prunegate::testing::MakeRandomModel(c, seed);
}

// ---- naive float64 reference ----
std::vector<double> RefInvFreq(const ModelConfig& c) {
  std::vector<double> inv;
  for (int64_t i = 0; i < c.head_dim / 2; ++i) {
    double f = std::pow(c.rope_theta, -2.0 * i / c.head_dim);
    const RopeScaling& rs = c.rope_scaling;
    if (rs.type == RopeScalingType::kLinear) f /= rs.factor;
    if (rs.type == RopeScalingType::kLlama3) {
      const double L = rs.original_max_position_embeddings;
      const double wavelen = 2 * M_PI / f;
      if (wavelen > L / rs.low_freq_factor) {
        f /= rs.factor;
      } else if (wavelen >= L / rs.high_freq_factor) {
        const double s =
            (L / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = (1 - s) * f / rs.factor + s * f;
      }
    }
    inv.push_back(f);
  }
  return inv;
}

torch::Tensor RefNorm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x / torch::sqrt(x.pow(2).mean(-1, true) + eps) * w.to(torch::kDouble);
}

torch::Tensor RefRope(torch::Tensor x, int64_t pos, const std::vector<double>& inv) {
  // x: (D). Rotate-half convention: pairs (i, i + D/2).
  const int64_t half = x.size(0) / 2;
  torch::Tensor out = x.clone();
  for (int64_t i = 0; i < half; ++i) {
    const double a = pos * inv[i], c = std::cos(a), s = std::sin(a);
    const double x1 = x[i].item<double>(), x2 = x[i + half].item<double>();
    out[i] = x1 * c - x2 * s;
    out[i + half] = x2 * c + x1 * s;
  }
  return out;
}

torch::Tensor ReferenceLogits(const Model& model, const std::vector<int64_t>& ids) {
  const ModelConfig& c = model.config();
  const ModelWeights& W = model.weights();
  auto d = [](const at::Tensor& t) { return t.defined() ? t.to(torch::kDouble) : t; };
  const int64_t S = ids.size(), D = c.head_dim, rep = c.num_attention_heads / c.num_key_value_heads;
  const auto inv = RefInvFreq(c);
  torch::Tensor h = torch::zeros({S, c.hidden_size}, torch::kDouble);
  for (int64_t i = 0; i < S; ++i) h[i] = d(W.embed_tokens[ids[i]]);
  for (const LayerWeights& l : W.layers) {
    if (l.has_attention()) {
      torch::Tensor n = RefNorm(h, l.input_norm, c.rms_norm_eps);
      torch::Tensor q = torch::matmul(n, d(l.q_proj).t()), k = torch::matmul(n, d(l.k_proj).t()),
                    v = torch::matmul(n, d(l.v_proj).t());
      if (l.q_bias.defined()) q += d(l.q_bias), k += d(l.k_bias), v += d(l.v_bias);
      torch::Tensor out = torch::zeros({S, c.q_dim()}, torch::kDouble);
      for (int64_t head = 0; head < c.num_attention_heads; ++head) {
        const int64_t kvh = head / rep;
        std::vector<torch::Tensor> kr;
        for (int64_t j = 0; j < S; ++j) kr.push_back(RefRope(k[j].narrow(0, kvh * D, D), j, inv));
        for (int64_t i = 0; i < S; ++i) {
          torch::Tensor qi = RefRope(q[i].narrow(0, head * D, D), i, inv);
          std::vector<double> scores;
          std::vector<torch::Tensor> vals;
          for (int64_t j = 0; j <= i; ++j) {
            if (c.sliding_window > 0 && i - j >= c.sliding_window) continue;
            scores.push_back((qi * kr[j]).sum().item<double>() / std::sqrt(double(D)));
            vals.push_back(v[j].narrow(0, kvh * D, D));
          }
          double mx = *std::max_element(scores.begin(), scores.end()), z = 0;
          for (double& s : scores) z += (s = std::exp(s - mx));
          torch::Tensor o = torch::zeros({D}, torch::kDouble);
          for (size_t j = 0; j < vals.size(); ++j) o += scores[j] / z * vals[j];
          out[i].narrow(0, head * D, D).copy_(o);
        }
      }
      h = h + torch::matmul(out, d(l.o_proj).t());
      if (l.o_bias.defined()) h += d(l.o_bias);
    }
    if (l.has_mlp()) {
      torch::Tensor n = RefNorm(h, l.post_attention_norm, c.rms_norm_eps);
      torch::Tensor g = torch::matmul(n, d(l.gate_proj).t());
      torch::Tensor act = g / (1 + torch::exp(-g)) * torch::matmul(n, d(l.up_proj).t());
      h = h + torch::matmul(act, d(l.down_proj).t());
    }
  }
  return torch::matmul(RefNorm(h, W.final_norm, c.rms_norm_eps), d(W.lm_head).t());
}

// Max |a - b| relative to the size of the logits (at least 1), for float32 comparisons.
double RelDiff(const at::Tensor& a, const at::Tensor& b) {
  const double scale = std::max(1.0, b.abs().max().item<double>());
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>() / scale;
}

std::vector<int64_t> Ids(int64_t n, int64_t vocab, int64_t offset = 0) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back((i * 7 + 3 + offset) % vocab);
  return ids;
}

at::Tensor FullLogits(std::shared_ptr<const Model> m, const std::vector<int64_t>& ids) {
  auto s = Session::Create(m);
  auto l = (*s)->Feed({ids}, LogitsMode::kAll);
  EXPECT_TRUE(l.ok()) << l.status();
  return (*l)[0];
}

struct Variant {
  const char* name;
  void (*apply)(ModelConfig*);
};

class ReferenceTest : public ::testing::TestWithParam<Variant> {};

TEST_P(ReferenceTest, MatchesNaiveFloat64Reference) {
  ModelConfig c = SmallConfig();
  GetParam().apply(&c);
  auto model = MakeModel(c);
  const auto ids = Ids(19, c.vocab_size);
  at::Tensor got = FullLogits(model, ids);
  at::Tensor ref = ReferenceLogits(*model, ids);
  EXPECT_LT(RelDiff(got, ref), 1e-5) << GetParam().name;
}

TEST_P(ReferenceTest, IncrementalDecodeEqualsFullRecompute) {
  ModelConfig c = SmallConfig();
  GetParam().apply(&c);
  auto model = MakeModel(c);
  const auto ids = Ids(23, c.vocab_size);
  at::Tensor full = FullLogits(model, ids);
  PG_ASSERT_OK_AND_ASSIGN(auto s, Session::Create(model));
  // Prompt of 5 in one chunk, then chunks of 1, 3 and single steps.
  std::vector<at::Tensor> rows;
  size_t i = 0;
  for (size_t chunk : {5, 1, 3, 1, 1, 4, 8}) {
    std::vector<int64_t> part(ids.begin() + i, ids.begin() + std::min(ids.size(), i + chunk));
    i += part.size();
    PG_ASSERT_OK_AND_ASSIGN(at::Tensor l, s->Feed({part}, LogitsMode::kAll));
    rows.push_back(l[0]);
  }
  ASSERT_EQ(i, ids.size());
  EXPECT_LT(RelDiff(torch::cat(rows, 0), full), 5e-6) << GetParam().name;
}

TEST_P(ReferenceTest, LeftPaddedBatchEqualsSingleSequences) {
  ModelConfig c = SmallConfig();
  GetParam().apply(&c);
  auto model = MakeModel(c);
  const auto a = Ids(11, c.vocab_size, 1), b = Ids(4, c.vocab_size, 5);
  PG_ASSERT_OK_AND_ASSIGN(auto s, Session::Create(model, 2));
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor first, s->Feed({a, b}, LogitsMode::kLast));
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor next, s->Step({3, 9}));
  auto a2 = a, b2 = b;
  a2.push_back(3);
  b2.push_back(9);
  at::Tensor fa = FullLogits(model, a2), fb = FullLogits(model, b2);
  EXPECT_LT(RelDiff(first[0], fa[10]), 5e-6);
  EXPECT_LT(RelDiff(first[1], fb[3]), 5e-6);
  EXPECT_LT(RelDiff(next[0], fa[11]), 5e-6);
  EXPECT_LT(RelDiff(next[1], fb[4]), 5e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, ReferenceTest,
    ::testing::Values(Variant{"llama_gqa", [](ModelConfig*) {}},
                      Variant{"mha", [](ModelConfig* c) { c->num_key_value_heads = 4; }},
                      Variant{"mqa", [](ModelConfig* c) { c->num_key_value_heads = 1; }},
                      Variant{"qwen2_bias_tied",
                              [](ModelConfig* c) {
                                c->architecture = Architecture::kQwen2;
                                c->qkv_bias = true;
                                c->tie_word_embeddings = true;
                              }},
                      Variant{"llama_attention_bias",
                              [](ModelConfig* c) { c->attention_bias = true; }},
                      Variant{"mistral_window",
                              [](ModelConfig* c) {
                                c->architecture = Architecture::kMistral;
                                c->sliding_window = 4;
                              }},
                      Variant{"head_dim_16", [](ModelConfig* c) { c->head_dim = 16; }},
                      Variant{"linear_rope",
                              [](ModelConfig* c) {
                                c->rope_scaling.type = RopeScalingType::kLinear;
                                c->rope_scaling.factor = 2.0;
                              }},
                      Variant{"llama3_rope",
                              [](ModelConfig* c) {
                                c->rope_theta = 500000;
                                c->rope_scaling.type = RopeScalingType::kLlama3;
                                c->rope_scaling.factor = 8;
                                c->rope_scaling.low_freq_factor = 1;
                                c->rope_scaling.high_freq_factor = 4;
                                c->rope_scaling.original_max_position_embeddings = 64;
                              }}),
    [](const ::testing::TestParamInfo<Variant>& info) { return std::string(info.param.name); });

TEST(RopeTest, Llama3FrequenciesFollowTheThreeBands) {
  ModelConfig c = SmallConfig();
  c.head_dim = 16;
  c.rope_theta = 500000;
  c.rope_scaling = {RopeScalingType::kLlama3, 8, 1, 4, 64};
  at::Tensor inv = Transformer::RopeInvFreq(c);
  const auto ref = RefInvFreq(c);
  int low = 0, high = 0, mid = 0;
  for (int64_t i = 0; i < inv.size(0); ++i) {
    EXPECT_NEAR(inv[i].item<double>(), ref[i], 1e-6 * ref[i]);
    const double base = std::pow(500000.0, -2.0 * i / 16), wl = 2 * M_PI / base;
    if (wl > 64)
      ++low;
    else if (wl < 16)
      ++high;
    else
      ++mid;
  }
  EXPECT_GT(low, 0);  // the chosen settings exercise every band
  EXPECT_GT(high, 0);
  EXPECT_GT(mid, 0);
}

class RecordingTap : public SublayerTap {
 public:
  void OnSublayer(int layer, Sublayer sub, const at::Tensor& residual, at::Tensor& out) override {
    calls.push_back({layer, static_cast<int>(sub)});
    if (zero_mlp_of_layer == layer && sub == Sublayer::kMlp) out = at::Tensor();
  }
  std::vector<std::pair<int, int>> calls;
  int zero_mlp_of_layer = -1;
};

TEST(TapTest, VisitsEverySublayerInOrderAndCanReplaceOutputs) {
  ModelConfig c = SmallConfig();
  auto model = MakeModel(c);
  const auto ids = Ids(9, c.vocab_size);
  RecordingTap tap;
  tap.zero_mlp_of_layer = 1;
  PG_ASSERT_OK_AND_ASSIGN(auto s, Session::Create(model));
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor tapped, s->Feed({ids}, LogitsMode::kAll, &tap));
  ASSERT_EQ(tap.calls.size(), 6u);
  EXPECT_EQ(tap.calls[0], std::make_pair(0, 0));
  EXPECT_EQ(tap.calls[3], std::make_pair(1, 1));
  // Replacing layer 1's MLP output by nothing == a model whose layer-1 MLP is dropped.
  ModelWeights w = model->weights();
  w.layers[1].post_attention_norm = w.layers[1].gate_proj = w.layers[1].up_proj =
      w.layers[1].down_proj = at::Tensor();
  PG_ASSERT_OK_AND_ASSIGN(auto dropped, Model::FromWeights(c, w));
  EXPECT_LT((tapped[0] - FullLogits(dropped, ids)).abs().max().item<double>(), 1e-6);
  EXPECT_GT((tapped[0] - FullLogits(model, ids)).abs().max().item<double>(), 1e-3);
  // A derived model shares every unchanged tensor with its baseline.
  EXPECT_GT(dropped->bytes_shared_with(*model), 0);
  EXPECT_LT(dropped->bytes(), model->bytes());
  EXPECT_EQ(dropped->bytes_shared_with(*model), dropped->bytes());
}

TEST(TransformerTest, CachelessForwardMatchesAndIsDifferentiable) {
  ModelConfig c = SmallConfig();
  ModelWeights w = RandomWeights(c, 5);
  for (LayerWeights& l : w.layers) l.q_proj.set_requires_grad(true);
  w.embed_tokens.set_requires_grad(true);
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::FromWeights(c, w));
  const auto ids = Ids(10, c.vocab_size);
  at::Tensor t = torch::tensor(ids, torch::kLong).view({1, -1});
  ForwardInput in{t, torch::arange(10, torch::kLong).view({1, -1}), at::Tensor()};
  at::Tensor logits = Transformer::Logits(*model, Transformer::Forward(*model, in, nullptr));
  at::Tensor ref;
  {
    c10::InferenceMode guard;
    ref = FullLogits(model, ids);
  }
  EXPECT_LT(RelDiff(logits.detach()[0], ref), 1e-6);
  torch::nn::functional::cross_entropy(logits[0].narrow(0, 0, 9), t[0].narrow(0, 1, 9)).backward();
  ASSERT_TRUE(w.layers[1].q_proj.grad().defined());
  EXPECT_GT(w.layers[1].q_proj.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(w.embed_tokens.grad().abs().sum().item<double>(), 0);
}

TEST(SessionTest, RejectsBadInputsAndKeepsWorking) {
  ModelConfig c = SmallConfig();
  c.max_position_embeddings = 8;
  auto model = MakeModel(c);
  PG_ASSERT_OK_AND_ASSIGN(auto s, Session::Create(model));
  EXPECT_THAT(s->Feed({{}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s->Feed({{1, 61}}), StatusIs(absl::StatusCode::kInvalidArgument,
                                           ::testing::HasSubstr("outside the vocabulary")));
  EXPECT_THAT(s->Feed({{-1}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s->Feed({{1}, {2}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s->Feed({Ids(9, 61)}), StatusIs(absl::StatusCode::kInvalidArgument,
                                              ::testing::HasSubstr("max_position_embeddings")));
  EXPECT_THAT(s->Feed({Ids(8, 61)}), ::prunegate::testing::IsOk());
  EXPECT_THAT(Session::Create(model, 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelTest, FromWeightsValidatesShapes) {
  ModelConfig c = SmallConfig();
  ModelWeights w = RandomWeights(c, 1);
  w.layers[2].k_proj = torch::zeros({3, 3});
  EXPECT_THAT(Model::FromWeights(c, w),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("model.layers.2.self_attn.k_proj.weight")));
  w = RandomWeights(c, 1);
  w.layers.pop_back();
  EXPECT_THAT(Model::FromWeights(c, w), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelTest, TiedHeadCountedOnce) {
  ModelConfig c = SmallConfig();
  c.tie_word_embeddings = true;
  auto tied = MakeModel(c);
  c.tie_word_embeddings = false;
  auto untied = MakeModel(c);
  EXPECT_TRUE(tied->tied());
  EXPECT_FALSE(untied->tied());
  EXPECT_EQ(untied->parameter_count() - tied->parameter_count(), c.vocab_size * c.hidden_size);
}

}  // namespace
}  // namespace prunegate
