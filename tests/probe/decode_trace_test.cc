#include "server/probe/decode_trace.h"

#include <utility>

#include "gtest/gtest.h"
#include "server/model/generate.h"
#include "server/model/session.h"
#include "server/prune/drop.h"
#include "tests/testing/random_model.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate::probe {
namespace {

using ::prunegate::testing::MakeRandomModel;
using ::prunegate::testing::SmallConfig;
using ::prunegate::testing::StatusIs;

const std::vector<int64_t> kPrompt = {5, 17, 23, 42};

// q(tok) - p(tok) at temperature T from one row of each model's logits, in float64.
double DeltaP(const at::Tensor& za, const at::Tensor& zb, int64_t tok, double t) {
  c10::InferenceMode guard;
  const at::Tensor p = torch::softmax(za.to(torch::kDouble) / t, 0);
  const at::Tensor q = torch::softmax(zb.to(torch::kDouble) / t, 0);
  return (q[tok] - p[tok]).item<double>();
}

// Both models' logits at every position of `ids`, teacher-forced: (S, V) each.
std::pair<at::Tensor, at::Tensor> TeacherForced(std::shared_ptr<const Model> a,
                                                std::shared_ptr<const Model> b,
                                                const std::vector<int64_t>& ids) {
  c10::InferenceMode guard;
  return {Session::Create(a).value()->Feed({ids}, LogitsMode::kAll).value()[0],
          Session::Create(b).value()->Feed({ids}, LogitsMode::kAll).value()[0]};
}

TEST(DecodeTraceTest, IdenticalPairNeverDiverges) {
  auto base = MakeRandomModel(SmallConfig());
  TraceOptions o;
  o.max_steps = 12;
  o.sampling = {1.0, 0, 1.0, 99};  // sampled: the shared seed keeps both identical
  PG_ASSERT_OK_AND_ASSIGN(TraceResult r, TraceDecode(base, base, kPrompt, o));
  ASSERT_EQ(r.steps.size(), 12u);
  EXPECT_EQ(r.first_divergence, -1);
  EXPECT_EQ(r.tokens_a, r.tokens_b);
  for (const TraceStep& s : r.steps) {
    EXPECT_TRUE(s.agree);
    EXPECT_EQ(s.stats.probs[0].kl, 0.0);
    EXPECT_EQ(s.hidden.ang, 0.0);
  }
}

TEST(DecodeTraceTest, FreeModeFollowsEachModelsOwnGeneration) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kMlp, {0, 1}));
  TraceOptions o;
  o.max_steps = 16;
  PG_ASSERT_OK_AND_ASSIGN(TraceResult r, TraceDecode(base, cand, kPrompt, o));
  GenerateOptions g;
  g.max_new_tokens = 16;
  PG_ASSERT_OK_AND_ASSIGN(GenerateResult ga, Generate(base, kPrompt, g));
  PG_ASSERT_OK_AND_ASSIGN(GenerateResult gb, Generate(cand, kPrompt, g));
  EXPECT_EQ(r.tokens_a, ga.generated_ids);
  EXPECT_EQ(r.tokens_b, gb.generated_ids);
  int64_t first = -1;
  for (size_t i = 0; i < ga.generated_ids.size(); ++i) {
    if (ga.generated_ids[i] != gb.generated_ids[i]) {
      first = i;
      break;
    }
  }
  EXPECT_EQ(r.first_divergence, first);
  EXPECT_GT(r.steps[0].stats.probs[0].kl, 0.0);
}

TEST(DecodeTraceTest, TeacherModeComparesTeacherForcedLogits) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kAttention, {2}));
  TraceOptions o;
  o.mode = TraceMode::kTeacher;
  o.reference_ids = {7, 8, 9, 10, 11};
  o.max_steps = 100;
  o.temperatures = {0.5, 1.0};
  PG_ASSERT_OK_AND_ASSIGN(TraceResult r, TraceDecode(base, cand, kPrompt, o));
  ASSERT_EQ(r.steps.size(), 5u);
  std::vector<int64_t> all = kPrompt;
  all.insert(all.end(), o.reference_ids.begin(), o.reference_ids.end());
  at::Tensor za, zb;
  {
    c10::InferenceMode guard;
    za = Session::Create(base).value()->Feed({all}, LogitsMode::kAll).value()[0];
    zb = Session::Create(cand).value()->Feed({all}, LogitsMode::kAll).value()[0];
  }
  CompareOptions co;
  co.temperatures = o.temperatures;
  for (int64_t k = 0; k < 5; ++k) {
    const int64_t row = static_cast<int64_t>(kPrompt.size()) - 1 + k;
    PG_ASSERT_OK_AND_ASSIGN(auto want,
                            CompareLogits(za.narrow(0, row, 1), zb.narrow(0, row, 1), co));
    for (size_t t = 0; t < 2; ++t) {
      const double w = want[0].probs[t].kl;
      EXPECT_NEAR(r.steps[k].stats.probs[t].kl, w, 1e-5 * std::max(1.0, w)) << "step " << k;
      // Δp of the reference token both models are fed next.
      const double dp = DeltaP(za[row], zb[row], o.reference_ids[k], o.temperatures[t]);
      EXPECT_NE(r.steps[k].stats.probs[t].dp_ref, 0.0) << "step " << k;
      EXPECT_NEAR(r.steps[k].stats.probs[t].dp_ref, dp, 1e-5) << "step " << k;
    }
    EXPECT_EQ(r.steps[k].position, row + 1);
  }
}

TEST(DecodeTraceTest, TeacherModeWithoutReferenceFeedsTheBaselinesOwnTokens) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kMlp, {0, 1}));
  TraceOptions o;
  o.mode = TraceMode::kTeacher;
  o.max_steps = 8;
  o.temperatures = {0.5, 1.0};
  PG_ASSERT_OK_AND_ASSIGN(TraceResult r, TraceDecode(base, cand, kPrompt, o));
  ASSERT_EQ(r.steps.size(), 8u);
  // Fed its own greedy tokens, the baseline generates exactly what it generates alone.
  GenerateOptions g;
  g.max_new_tokens = 8;
  PG_ASSERT_OK_AND_ASSIGN(GenerateResult ga, Generate(base, kPrompt, g));
  EXPECT_EQ(r.tokens_a, ga.generated_ids);
  // The candidate is teacher-forced on those tokens: its choices and the statistics are those of
  // one forward pass of each model over prompt + the baseline's tokens.
  std::vector<int64_t> all = kPrompt;
  all.insert(all.end(), r.tokens_a.begin(), r.tokens_a.end());
  const auto [za, zb] = TeacherForced(base, cand, all);
  CompareOptions co;
  co.temperatures = o.temperatures;
  int nonzero = 0;
  for (int64_t k = 0; k < 8; ++k) {
    const int64_t row = static_cast<int64_t>(kPrompt.size()) - 1 + k;
    const TraceStep& step = r.steps[k];
    EXPECT_EQ(step.token_b, zb[row].argmax().item<int64_t>()) << "step " << k;
    PG_ASSERT_OK_AND_ASSIGN(auto want,
                            CompareLogits(za.narrow(0, row, 1), zb.narrow(0, row, 1), co));
    for (size_t t = 0; t < 2; ++t) {
      const double w = want[0].probs[t].kl;
      EXPECT_NEAR(step.stats.probs[t].kl, w, 1e-5 * std::max(1.0, w)) << "step " << k;
      const double dp = DeltaP(za[row], zb[row], r.tokens_a[k], o.temperatures[t]);
      EXPECT_NEAR(step.stats.probs[t].dp_ref, dp, 1e-5) << "step " << k;
      nonzero += step.stats.probs[t].dp_ref != 0.0;
    }
  }
  EXPECT_EQ(nonzero, 16);
}

TEST(DecodeTraceTest, FreeSampledTracesAgreeUntilTheFirstDivergence) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kMlp, {2}));
  int diverged_later = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    TraceOptions o;
    o.max_steps = 24;
    o.sampling = {1.0, 0, 1.0, seed};  // T = 1, both models draw the same random numbers
    PG_ASSERT_OK_AND_ASSIGN(TraceResult r, TraceDecode(base, cand, kPrompt, o));
    ASSERT_EQ(r.steps.size(), 24u);
    // Each side is that model's own sampled generation with the shared seed.
    GenerateOptions g;
    g.max_new_tokens = 24;
    g.sampling = o.sampling;
    PG_ASSERT_OK_AND_ASSIGN(GenerateResult ga, Generate(base, kPrompt, g));
    PG_ASSERT_OK_AND_ASSIGN(GenerateResult gb, Generate(cand, kPrompt, g));
    EXPECT_EQ(r.tokens_a, ga.generated_ids) << "seed " << seed;
    EXPECT_EQ(r.tokens_b, gb.generated_ids) << "seed " << seed;
    ASSERT_GE(r.first_divergence, 0) << "seed " << seed << ": a differing pair never diverged";
    const int64_t d = r.first_divergence;
    for (int64_t k = 0; k < d; ++k) {
      EXPECT_EQ(r.tokens_a[k], r.tokens_b[k]) << "seed " << seed << " step " << k;
      EXPECT_TRUE(r.steps[k].agree);
    }
    EXPECT_NE(r.tokens_a[d], r.tokens_b[d]) << "seed " << seed;
    EXPECT_FALSE(r.steps[d].agree);
    diverged_later += d > 0;
    // Step 0: Δp of the baseline's sampled token, from the logits after the prompt.
    const auto [za, zb] = TeacherForced(base, cand, kPrompt);
    const int64_t last = static_cast<int64_t>(kPrompt.size()) - 1;
    EXPECT_NEAR(r.steps[0].stats.probs[0].dp_ref, DeltaP(za[last], zb[last], r.tokens_a[0], 1.0),
                1e-5);
  }
  EXPECT_GT(diverged_later, 0) << "no seed gave a shared prefix before the divergence";
}

// Free mode, two models that stop at different steps: the one that stopped keeps emitting its
// stop token (nothing it would have sampled after its end counts) while the other goes on.
TEST(DecodeTraceTest, AModelThatStoppedEmitsItsStopTokenWhileTheOtherGoesOn) {
  auto base = MakeRandomModel(SmallConfig());
  auto other = MakeRandomModel(SmallConfig(), /*seed=*/99);
  TraceOptions o;
  o.max_steps = 8;
  PG_ASSERT_OK_AND_ASSIGN(TraceResult free, TraceDecode(base, other, kPrompt, o));
  ASSERT_EQ(free.steps.size(), 8u);
  // Stop the baseline at its third token, unless the candidate emits it earlier.
  const int64_t stop = free.tokens_a[2];
  for (int k = 0; k < 3; ++k) {
    if (free.tokens_b[k] == stop) GTEST_SKIP() << "the candidate emits the stop token early";
  }
  o.stop_ids = {stop};
  PG_ASSERT_OK_AND_ASSIGN(TraceResult r, TraceDecode(base, other, kPrompt, o));
  ASSERT_EQ(r.tokens_a.size(), 3u);
  EXPECT_EQ(r.tokens_a.back(), stop);
  ASSERT_GT(r.steps.size(), 3u);
  for (size_t k = 3; k < r.steps.size(); ++k) {
    EXPECT_EQ(r.steps[k].token_a, stop) << "step " << k;
  }
  EXPECT_EQ(r.tokens_b.size(), r.steps.size());  // the candidate never stopped
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(r.tokens_b[k], free.tokens_b[k]);
}

TEST(DecodeTraceTest, StopsOnStopIdsCallbacksAndCancellation) {
  auto base = MakeRandomModel(SmallConfig());
  TraceOptions o;
  o.max_steps = 10;
  PG_ASSERT_OK_AND_ASSIGN(TraceResult first, TraceDecode(base, base, kPrompt, o));
  o.stop_ids = {first.tokens_a[2]};
  PG_ASSERT_OK_AND_ASSIGN(TraceResult stopped, TraceDecode(base, base, kPrompt, o));
  EXPECT_LE(stopped.steps.size(), 3u);
  o.stop_ids.clear();
  int seen = 0;
  PG_ASSERT_OK_AND_ASSIGN(
      TraceResult cut,
      TraceDecode(base, base, kPrompt, o, [&](const TraceStep&) { return ++seen < 4; }));
  EXPECT_EQ(cut.steps.size(), 4u);
  EXPECT_THAT(TraceDecode(base, base, kPrompt, o, {}, [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(TraceDecode(base, base, {}, o), StatusIs(absl::StatusCode::kInvalidArgument));
  ModelConfig other = SmallConfig();
  other.vocab_size = 70;
  EXPECT_THAT(TraceDecode(base, MakeRandomModel(other), kPrompt, o),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o.max_steps = 1000;
  EXPECT_THAT(TraceDecode(base, base, kPrompt, o),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("max_position")));
}

}  // namespace
}  // namespace prunegate::probe
