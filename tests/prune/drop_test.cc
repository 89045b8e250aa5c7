#include "server/prune/drop.h"

#include "gtest/gtest.h"
#include "server/model/session.h"
#include "tests/testing/random_model.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate::prune {
namespace {

using ::prunegate::testing::MakeRandomModel;
using ::prunegate::testing::SmallConfig;
using ::prunegate::testing::StatusIs;
using ::testing::HasSubstr;

at::Tensor Logits(std::shared_ptr<const Model> m, const std::vector<int64_t>& ids,
                  SublayerTap* tap = nullptr) {
  c10::InferenceMode guard;
  return Session::Create(m).value()->Feed({ids}, LogitsMode::kAll, tap).value()[0];
}

std::vector<std::vector<int64_t>> Calibration() {
  std::vector<std::vector<int64_t>> out;
  for (int s = 0; s < 5; ++s) {
    std::vector<int64_t> ids;
    for (int i = 0; i < 7 + 2 * s; ++i) ids.push_back((s * 13 + i * 5) % 61);
    out.push_back(ids);
  }
  return out;
}

class DropOutput : public SublayerTap {
 public:
  DropOutput(int layer, Sublayer sub) : layer_(layer), sub_(sub) {}
  void OnSublayer(int layer, Sublayer sub, const at::Tensor&, at::Tensor& out) override {
    if (layer == layer_ && sub == sub_) out = at::Tensor();
  }
  int layer_;
  Sublayer sub_;
};

TEST(DropTest, CandidateSharesEveryKeptTensorAndMatchesASkippedSublayer) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, DropLayers(*base, DropKind::kMlp, {1}));
  const LayerWeights& l = cand->weights().layers[1];
  EXPECT_FALSE(l.has_mlp());
  EXPECT_FALSE(l.post_attention_norm.defined());  // the norm goes with its sublayer
  EXPECT_TRUE(l.q_proj.is_same(base->weights().layers[1].q_proj));
  EXPECT_TRUE(cand->weights().embed_tokens.is_same(base->weights().embed_tokens));
  EXPECT_EQ(cand->bytes_shared_with(*base), cand->bytes());  // owns nothing new
  EXPECT_LT(cand->bytes(), base->bytes());
  const std::vector<int64_t> ids = {3, 14, 15, 9, 26, 5};
  DropOutput skip(1, Sublayer::kMlp);
  EXPECT_LT((Logits(cand, ids) - Logits(base, ids, &skip)).abs().max().item<double>(), 1e-6);
  EXPECT_GT((Logits(cand, ids) - Logits(base, ids)).abs().max().item<double>(), 1e-3);
}

TEST(DropTest, BlockDropRemovesBothSublayers) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, DropLayers(*base, DropKind::kBlock, {0, 2}));
  for (int layer : {0, 2}) {
    EXPECT_FALSE(cand->weights().layers[layer].has_attention());
    EXPECT_FALSE(cand->weights().layers[layer].has_mlp());
    EXPECT_FALSE(cand->weights().layers[layer].input_norm.defined());
  }
  EXPECT_TRUE(cand->weights().layers[1].has_attention());
  // Dropping attention then MLP of the same layer equals dropping the block.
  PG_ASSERT_OK_AND_ASSIGN(auto a, DropLayers(*base, DropKind::kAttention, {0, 2}));
  PG_ASSERT_OK_AND_ASSIGN(auto am, DropLayers(*a, DropKind::kMlp, {0, 2}));
  const std::vector<int64_t> ids = {1, 2, 3, 4};
  EXPECT_EQ((Logits(cand, ids) - Logits(am, ids)).abs().max().item<double>(), 0.0);
}

TEST(DropTest, RejectsBadLayerLists) {
  auto base = MakeRandomModel(SmallConfig());
  EXPECT_THAT(DropLayers(*base, DropKind::kMlp, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DropLayers(*base, DropKind::kMlp, {3}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(DropLayers(*base, DropKind::kMlp, {1, 1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  PG_ASSERT_OK_AND_ASSIGN(auto cand, DropLayers(*base, DropKind::kAttention, {1}));
  EXPECT_THAT(DropLayers(*cand, DropKind::kAttention, {1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nothing left")));
  EXPECT_THAT(DropLayers(*cand, DropKind::kBlock, {1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDropKind("drop-head"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(*ParseDropKind("drop-block"), DropKind::kBlock);
}

TEST(DropTest, ImportanceScoreMatchesItsDefinition) {
  auto base = MakeRandomModel(SmallConfig());
  const auto calib = Calibration();
  PG_ASSERT_OK_AND_ASSIGN(auto scores, ScoreImportance(base, DropKind::kMlp, calib, 2));
  ASSERT_EQ(scores.size(), 3u);
  // Recompute layer 1's MLP score by hand with a tap, one sequence at a time (no padding).
  class Cos : public SublayerTap {
   public:
    void OnSublayer(int layer, Sublayer sub, const at::Tensor& x, at::Tensor& out) override {
      if (layer != 1 || sub != Sublayer::kMlp) return;
      sum += torch::cosine_similarity(x, x + out, -1).sum().item<double>();
      n += x.size(1);
    }
    double sum = 0;
    int64_t n = 0;
  } cos;
  for (const auto& seq : calib) Logits(base, seq, &cos);
  EXPECT_NEAR(scores[1].similarity, cos.sum / cos.n, 1e-5);
  EXPECT_EQ(scores[1].layer, 1);
}

TEST(DropTest, ChoosesTheSublayerThatChangesTheStreamLeast) {
  ModelConfig c = SmallConfig();
  ModelWeights w = ::prunegate::testing::RandomWeights(c, 11);
  w.layers[2].down_proj = w.layers[2].down_proj * 1e-3;  // layer 2's MLP barely matters
  PG_ASSERT_OK_AND_ASSIGN(auto base, Model::FromWeights(c, w));
  for (Selection sel : {Selection::kOneShot, Selection::kIterative}) {
    PG_ASSERT_OK_AND_ASSIGN(auto layers, ChooseLayers(base, DropKind::kMlp, 2, Calibration(), sel));
    ASSERT_EQ(layers.size(), 2u);
    EXPECT_EQ(layers[0], 2);
    EXPECT_NE(layers[1], 2);
  }
  EXPECT_THAT(ChooseLayers(base, DropKind::kMlp, 4, Calibration(), Selection::kOneShot),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 are present")));
  EXPECT_THAT(ScoreImportance(base, DropKind::kMlp, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A model where one-shot and iterative selection must differ. Every token embeds to the same
// vector e, attention adds nothing (o_proj = 0) and each MLP adds a constant (bias only):
// layer 0 adds 2e (parallel: similarity exactly 1, chosen first), layer 1 adds b ⊥ e with
// |b| = |e|, layer 2 adds c ⊥ e, b with |c|^2 = 1.5 |e|^2. On the baseline layer 1 sees 3e:
// cos = 3/sqrt(10) = 0.949 > layer 2's sqrt(10/11.5) = 0.933, so one-shot takes {0, 1}. With
// layer 0 dropped, layer 1 sees e: cos = 1/sqrt(2) = 0.707 < layer 2's sqrt(2/3.5) = 0.756, so
// rescoring the reduced model takes {0, 2}.
TEST(DropTest, IterativeSelectionRescoresTheReducedModel) {
  ModelConfig c = SmallConfig();
  c.mlp_bias = true;
  ModelWeights w = ::prunegate::testing::RandomWeights(c, 3);
  const int64_t h = c.hidden_size;
  auto unit = [&](int64_t i) { return torch::zeros({h}).index_fill_(0, torch::tensor({i}), 1.0); };
  const at::Tensor e = 2 * unit(0);
  w.embed_tokens = e.expand({c.vocab_size, h}).clone();
  const at::Tensor adds[] = {2 * e, 2 * unit(1), std::sqrt(1.5) * 2 * unit(2)};
  for (int l = 0; l < 3; ++l) {
    LayerWeights& lw = w.layers[l];
    lw.o_proj = torch::zeros_like(lw.o_proj);
    for (at::Tensor* t : {&lw.gate_proj, &lw.up_proj, &lw.down_proj}) *t = torch::zeros_like(*t);
    lw.gate_bias = torch::zeros({c.intermediate_size});
    lw.up_bias = torch::zeros({c.intermediate_size});
    lw.down_bias = adds[l].clone();
  }
  PG_ASSERT_OK_AND_ASSIGN(auto base, Model::FromWeights(c, w));
  const auto calib = Calibration();
  PG_ASSERT_OK_AND_ASSIGN(auto scores, ScoreImportance(base, DropKind::kMlp, calib));
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_NEAR(scores[0].similarity, 1.0, 1e-6);
  EXPECT_NEAR(scores[1].similarity, 3 / std::sqrt(10.0), 1e-5);
  EXPECT_NEAR(scores[2].similarity, std::sqrt(10 / 11.5), 1e-5);
  PG_ASSERT_OK_AND_ASSIGN(auto reduced, DropLayers(*base, DropKind::kMlp, {0}));
  PG_ASSERT_OK_AND_ASSIGN(auto rescored, ScoreImportance(reduced, DropKind::kMlp, calib));
  ASSERT_EQ(rescored.size(), 2u);
  EXPECT_NEAR(rescored[0].similarity, 1 / std::sqrt(2.0), 1e-5);  // layer 1
  EXPECT_NEAR(rescored[1].similarity, std::sqrt(2 / 3.5), 1e-5);  // layer 2

  PG_ASSERT_OK_AND_ASSIGN(auto one_shot,
                          ChooseLayers(base, DropKind::kMlp, 2, calib, Selection::kOneShot));
  PG_ASSERT_OK_AND_ASSIGN(auto iterative,
                          ChooseLayers(base, DropKind::kMlp, 2, calib, Selection::kIterative));
  EXPECT_EQ(one_shot, (std::vector<int>{0, 1}));
  EXPECT_EQ(iterative, (std::vector<int>{0, 2}));
}

}  // namespace
}  // namespace prunegate::prune
