#include "server/probe/kl_summary.h"

#include <cmath>

#include "gtest/gtest.h"
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

std::vector<int64_t> Text(int n) {
  std::vector<int64_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back((i * 7 + i / 5) % 61);
  return ids;
}

TEST(KlAccumulatorTest, LlamaCppConventionsOnHandData) {
  KlAccumulator acc;
  for (int i = 1; i <= 10; ++i) acc.Add(i, 0.01 * (i - 5), i % 2 == 0, -1.0, -2.0);
  KlSummary s = acc.Finish();
  EXPECT_EQ(s.tokens, 10);
  EXPECT_DOUBLE_EQ(s.kl.mean, 5.5);
  EXPECT_NEAR(s.kl.stderr_mean, std::sqrt((38.5 - 30.25) / 9), 1e-12);
  EXPECT_DOUBLE_EQ(s.kl.median, 5.5);  // average of the middle pair
  EXPECT_DOUBLE_EQ(s.kl.max, 10);
  EXPECT_DOUBLE_EQ(s.kl.p90, 10);  // sorted[floor(0.9 * 10)]
  EXPECT_DOUBLE_EQ(s.kl.p10, 2);   // sorted[1]
  EXPECT_DOUBLE_EQ(s.kl.min, 1);
  EXPECT_DOUBLE_EQ(s.same_top, 0.5);
  EXPECT_NEAR(s.same_top_err, std::sqrt(0.25 / 9), 1e-12);
  EXPECT_NEAR(s.ppl_a, std::exp(1.0), 1e-12);
  EXPECT_NEAR(s.ppl_b, std::exp(2.0), 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio, 1.0, 1e-12);  // ln(PPL_b / PPL_a)
  double sq = 0;
  for (int i = 1; i <= 10; ++i) sq += std::pow(0.01 * (i - 5), 2);
  EXPECT_NEAR(s.rms_dp, std::sqrt(sq / 10), 1e-12);
  EXPECT_NE(FormatKlSummary(s).find("Mean    KLD:   5.500000"), std::string::npos);
  EXPECT_NE(FormatKlSummary(s).find("Same top p"), std::string::npos);
}

TEST(KlSummaryTest, IdenticalModelsGiveZeros) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(KlSummary s, SummarizeKl(base, base, Text(100), {32, true, 1.0}));
  EXPECT_EQ(s.kl.max, 0.0);
  EXPECT_EQ(s.dp.max, 0.0);
  EXPECT_EQ(s.same_top, 1.0);
  EXPECT_EQ(s.ppl_a, s.ppl_b);
  // 100 tokens in windows of 32: 32, 32, 32, 4 -> scored 15 + 15 + 15 + 1 positions.
  EXPECT_EQ(s.tokens, 46);
}

TEST(KlSummaryTest, MatchesADirectComputationOnOneWindow) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kMlp, {1}));
  const auto ids = Text(20);
  int64_t windows_seen = 0;
  PG_ASSERT_OK_AND_ASSIGN(KlSummary s,
                          SummarizeKl(base, cand, ids, {64, false, 1.0}, {},
                                      [&](int64_t done, int64_t total) { windows_seen = total; }));
  EXPECT_EQ(windows_seen, 1);
  EXPECT_EQ(s.tokens, 19);
  c10::InferenceMode guard;
  at::Tensor la = torch::log_softmax(
      Session::Create(base).value()->Feed({ids}, LogitsMode::kAll).value()[0], -1);
  at::Tensor lb = torch::log_softmax(
      Session::Create(cand).value()->Feed({ids}, LogitsMode::kAll).value()[0], -1);
  const double kl = (la.exp() * (la - lb)).sum(-1).narrow(0, 0, 19).mean().item<double>();
  EXPECT_NEAR(s.kl.mean, kl, 1e-5 * std::max(1.0, kl));
  EXPECT_GT(s.kl.mean, 0.0);
}

TEST(KlSummaryTest, RejectsBadInput) {
  auto base = MakeRandomModel(SmallConfig());
  EXPECT_THAT(SummarizeKl(base, base, {1}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SummarizeKl(base, base, {1, 99}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SummarizeKl(base, base, Text(10), {32, true, 0.0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SummarizeKl(base, base, Text(10), {}, [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace prunegate::probe
