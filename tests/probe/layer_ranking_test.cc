#include "server/probe/layer_ranking.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/model/session.h"
#include "server/probe/stats.h"
#include "tests/testing/random_model.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate::probe {
namespace {

using ::prunegate::testing::MakeRandomModel;
using ::prunegate::testing::SmallConfig;
using ::prunegate::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kIdentityLayer = 1;  // its sublayer's output projection is zeroed
constexpr int kSmallLayer = 2;     // its sublayer's output projection is scaled down

const std::vector<std::vector<int64_t>>& Prompts() {
  static const auto* prompts = new std::vector<std::vector<int64_t>>{
      {1, 5, 9, 13, 17, 21, 25}, {2, 40, 3, 33, 7}, {60, 0, 12, 44, 8, 19, 30, 6, 50}};
  return *prompts;
}

// The random model with layer kIdentityLayer's `family` sublayer made an identity (f = 0) and
// layer kSmallLayer's scaled by `scale`.
std::shared_ptr<const Model> Patched(prune::DropKind family, double scale) {
  std::shared_ptr<const Model> base = MakeRandomModel(SmallConfig());
  ModelWeights w = base->weights();
  auto out_proj = [&](int layer) -> at::Tensor& {
    LayerWeights& l = w.layers[layer];
    return family == prune::DropKind::kAttention ? l.o_proj : l.down_proj;
  };
  out_proj(kIdentityLayer) = torch::zeros_like(out_proj(kIdentityLayer));
  out_proj(kSmallLayer) = out_proj(kSmallLayer) * scale;
  return Model::FromWeights(base->config(), std::move(w)).value();
}

class LayerRankingTest : public ::testing::TestWithParam<prune::DropKind> {};

TEST_P(LayerRankingTest, IdentitySublayerRanksLeastDamagingWithZeroKl) {
  const prune::DropKind family = GetParam();
  std::shared_ptr<const Model> model = Patched(family, 0.05);
  LayerRankingOptions options;
  options.family = family;
  options.temperatures = {1.0, 0.5};
  std::vector<std::string> stages;
  PG_ASSERT_OK_AND_ASSIGN(LayerRanking ranking,
                          RankLayers(model, Prompts(), options, [&](const RankProgress& p) {
                            stages.push_back(p.stage + std::to_string(p.done));
                          }));
  EXPECT_THAT(stages, ElementsAre("importance1", "probe1", "probe2", "probe3"));
  EXPECT_EQ(ranking.prompts, 3);
  EXPECT_EQ(ranking.positions, 7 + 5 + 9);
  EXPECT_THAT(ranking.temperatures, ElementsAre(1.0, 0.5));
  ASSERT_EQ(ranking.layers.size(), 3u);  // every layer
  std::vector<bool> seen(3, false);
  for (size_t i = 0; i < ranking.layers.size(); ++i) {
    const LayerDamage& d = ranking.layers[i];
    seen[d.layer] = true;
    EXPECT_EQ(d.damage_rank, static_cast<int>(i) + 1);
    EXPECT_EQ(d.sublayer,
              family == prune::DropKind::kAttention ? Sublayer::kAttention : Sublayer::kMlp);
    ASSERT_EQ(d.temperatures.size(), 2u);
    EXPECT_EQ(d.temperatures[1].temperature, 0.5);
    if (i > 0) {
      EXPECT_LE(ranking.layers[i - 1].temperatures[0].propagated_kl,
                d.temperatures[0].propagated_kl);
    }
  }
  EXPECT_THAT(seen, ElementsAre(true, true, true));

  const LayerDamage& identity = ranking.layers.front();
  EXPECT_EQ(identity.layer, kIdentityLayer);
  EXPECT_EQ(identity.ang_h, 0);
  EXPECT_EQ(identity.top1, 1.0);
  EXPECT_EQ(identity.propagated_top1, 1.0);
  for (const TemperatureDamage& t : identity.temperatures) {
    // h_a and h_b are equal; their lens rows go through one batched GEMM at different row
    // offsets, which may round differently in the last bit: zero up to float32 rounding.
    EXPECT_LT(t.kl, 1e-12);
    EXPECT_LT(t.kl_pred, 1e-12);
    EXPECT_EQ(t.propagated_kl, 0);
  }
  // cos(X, X + 0) = 1: the importance score also ranks it first.
  EXPECT_NEAR(identity.importance, 1.0, 1e-6);
  EXPECT_EQ(identity.importance_rank, 1);
  ASSERT_EQ(ranking.by_importance.size(), 3u);
  EXPECT_EQ(ranking.by_importance.front(), kIdentityLayer);

  // The scaled-down sublayer is a small perturbation: the Taylor estimate tracks the measured KL.
  for (const LayerDamage& d : ranking.layers) {
    if (d.layer != kSmallLayer) continue;
    for (const TemperatureDamage& t : d.temperatures) {
      EXPECT_GT(t.kl, 0);
      EXPECT_GT(t.kl_pred, 0.5 * t.kl) << "T=" << t.temperature;
      EXPECT_LT(t.kl_pred, 2.0 * t.kl) << "T=" << t.temperature;
      EXPECT_GT(t.propagated_kl, 0);
    }
    // Lower T amplifies the same logit change (KL ~ 1/T^2).
    EXPECT_GT(d.temperatures[1].kl, d.temperatures[0].kl);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, LayerRankingTest,
                         ::testing::Values(prune::DropKind::kAttention, prune::DropKind::kMlp),
                         [](const auto& info) {
                           return info.param == prune::DropKind::kAttention ? "Attention" : "Mlp";
                         });

// The propagated KL of a layer is the final-output KL of the model with that sublayer alone
// dropped, averaged over every position.
TEST(LayerRankingTest, PropagatedKlIsTheOneLayerDropsOutputKl) {
  std::shared_ptr<const Model> model = MakeRandomModel(SmallConfig());
  LayerRankingOptions options;
  options.temperatures = {0.7};
  PG_ASSERT_OK_AND_ASSIGN(LayerRanking ranking, RankLayers(model, Prompts(), options));
  c10::InferenceMode guard;
  CompareOptions co;
  co.temperatures = {0.7};
  for (const LayerDamage& d : ranking.layers) {
    PG_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> dropped,
                            prune::DropLayers(*model, prune::DropKind::kMlp, {d.layer}));
    double sum = 0;
    int64_t n = 0;
    for (const std::vector<int64_t>& ids : Prompts()) {
      PG_ASSERT_OK_AND_ASSIGN(at::Tensor za,
                              Session::Create(model).value()->Feed({ids}, LogitsMode::kAll));
      PG_ASSERT_OK_AND_ASSIGN(at::Tensor zb,
                              Session::Create(dropped).value()->Feed({ids}, LogitsMode::kAll));
      PG_ASSERT_OK_AND_ASSIGN(std::vector<RowStats> rows, CompareLogits(za[0], zb[0], co));
      for (const RowStats& r : rows) sum += r.probs[0].kl;
      n += static_cast<int64_t>(rows.size());
    }
    const double want = sum / n;
    EXPECT_NEAR(d.temperatures[0].propagated_kl, want, 1e-3 * want + 1e-9) << "layer " << d.layer;
  }
}

TEST(LayerRankingTest, BadInputsAndCancellation) {
  std::shared_ptr<const Model> model = MakeRandomModel(SmallConfig());
  LayerRankingOptions options;
  EXPECT_THAT(RankLayers(model, {}, options), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RankLayers(model, {{1, 2}, {}}, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prompt 1")));
  EXPECT_THAT(RankLayers(model, {{1, 61}}, options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.temperatures = {1.0, 0.0};
  EXPECT_THAT(RankLayers(model, Prompts(), options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.temperatures = {1.0};
  options.family = prune::DropKind::kBlock;
  EXPECT_THAT(RankLayers(model, Prompts(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drop-block")));
  options.family = prune::DropKind::kAttention;
  EXPECT_THAT(RankLayers(model, Prompts(), options, {}, [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled));
  // Cancelled after the first prompt: the walk stops there.
  int probed = 0;
  EXPECT_THAT(
      RankLayers(
          model, Prompts(), options, [&](const RankProgress& p) { probed += p.stage == "probe"; },
          [&] { return probed >= 1; }),
      StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(probed, 1);
  // A baseline that has already dropped a sublayer is ranked over the ones it has.
  PG_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Model> pruned,
                          prune::DropLayers(*model, prune::DropKind::kAttention, {0}));
  PG_ASSERT_OK_AND_ASSIGN(LayerRanking ranking, RankLayers(pruned, Prompts(), options));
  ASSERT_EQ(ranking.layers.size(), 2u);
  for (const LayerDamage& d : ranking.layers) EXPECT_NE(d.layer, 0);
}

}  // namespace
}  // namespace prunegate::probe
