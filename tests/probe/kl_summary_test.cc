#include "server/probe/kl_summary.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
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
  // llama.cpp interpolates at x = q * (n - 1): 0.9 * 9 = 8.1 -> 0.9 * 9 + 0.1 * 10.
  EXPECT_DOUBLE_EQ(s.kl.p90, 9.1);
  EXPECT_DOUBLE_EQ(s.kl.p10, 1.9);  // x = 0.9: 0.1 * 1 + 0.9 * 2
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

// Percentiles interpolated as llama.cpp's `percentile` lambda does: with x = q * (n - 1) and
// i = floor(x), (1 - (x - i)) * v[i] + (x - i) * v[i + 1] over the sorted values.
TEST(KlAccumulatorTest, PercentilesInterpolateAsLlamaCppDoes) {
  KlAccumulator acc;
  // KL = i^2 and Δp = i^2 / 1000 for i = 10, 9, ..., 1 (sorted: 1, 4, 9, ..., 100).
  for (int i = 10; i >= 1; --i) acc.Add(i * i, 1e-3 * i * i, true, -1.0, -1.0);
  const KlSummary s = acc.Finish();
  const Distribution& k = s.kl;
  EXPECT_DOUBLE_EQ(k.max, 100);
  EXPECT_NEAR(k.p99_9, 81 + 0.991 * 19, 1e-9);  // x = 8.991
  EXPECT_NEAR(k.p99, 81 + 0.91 * 19, 1e-9);     // x = 8.91
  EXPECT_NEAR(k.p95, 81 + 0.55 * 19, 1e-9);     // x = 8.55
  EXPECT_NEAR(k.p90, 81 + 0.1 * 19, 1e-9);      // x = 8.1
  EXPECT_NEAR(k.p75, 49 + 0.75 * 15, 1e-9);     // x = 6.75
  EXPECT_DOUBLE_EQ(k.median, (25 + 36) / 2.0);  // the middle pair
  EXPECT_NEAR(k.p25, 9 + 0.25 * 7, 1e-9);       // x = 2.25
  EXPECT_NEAR(k.p10, 1 + 0.9 * 3, 1e-9);        // x = 0.9
  EXPECT_NEAR(k.p5, 1 + 0.45 * 3, 1e-9);        // x = 0.45
  EXPECT_NEAR(k.p1, 1 + 0.09 * 3, 1e-9);        // x = 0.09
  EXPECT_NEAR(k.p0_1, 1 + 0.009 * 3, 1e-9);     // x = 0.009
  EXPECT_DOUBLE_EQ(k.min, 1);
  EXPECT_NEAR(s.dp.p75, 1e-3 * (49 + 0.75 * 15), 1e-12);
  EXPECT_NEAR(s.dp.p25, 1e-3 * (9 + 0.25 * 7), 1e-12);

  // Odd count: the median is the middle value; x = 0.75 * 4 = 3 lands on a value exactly.
  KlAccumulator odd;
  for (double v : {3.0, 1.0, 2.0, 5.0, 4.0}) odd.Add(v, v, true, -1.0, -1.0);
  const KlSummary o = odd.Finish();
  EXPECT_DOUBLE_EQ(o.kl.median, 3);
  EXPECT_DOUBLE_EQ(o.dp.p75, 4);
  EXPECT_DOUBLE_EQ(o.dp.p25, 2);
  EXPECT_NEAR(o.dp.p10, 1.4, 1e-12);  // x = 0.4
}

// The rows of the two blocks, in llama.cpp's order (tools/perplexity/perplexity.cpp): its KLD
// block has no 75% / 25% rows, its Δp block has them around the median.
TEST(KlAccumulatorTest, TextBlockHasLlamaCppsRowsInItsOrder) {
  KlAccumulator acc;
  for (int i = 1; i <= 20; ++i) acc.Add(0.01 * i, 0.001 * (i - 10), i % 3 == 0, -1.0, -1.5);
  const std::string text = FormatKlSummary(acc.Finish());
  auto labels = [&](const std::string& marker) {
    std::vector<std::string> out;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      const size_t at = line.find(marker);
      if (at != absl::string_view::npos) {
        out.emplace_back(absl::StripAsciiWhitespace(line.substr(0, at)));
      }
    }
    return out;
  };
  EXPECT_EQ(labels(" KLD: "),
            (std::vector<std::string>{"Mean", "Maximum", "99.9%", "99.0%", "95.0%", "90.0%",
                                      "Median", "10.0%", "5.0%", "1.0%", "0.1%", "Minimum"}));
  EXPECT_EQ(labels(" Δp: "), (std::vector<std::string>{"Mean", "Maximum", "99.9%", "99.0%", "95.0%",
                                                       "90.0%", "75.0%", "Median", "25.0%", "10.0%",
                                                       "5.0%", "1.0%", "0.1%", "Minimum"}));
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
  // Two tokens score nothing when the first half of the window is context; one prediction without.
  EXPECT_THAT(SummarizeKl(base, base, {1, 2}, {32, true, 1.0}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("at least 3")));
  PG_ASSERT_OK_AND_ASSIGN(KlSummary two, SummarizeKl(base, base, {1, 2}, {32, false, 1.0}));
  EXPECT_EQ(two.tokens, 1);
  PG_ASSERT_OK_AND_ASSIGN(KlSummary three, SummarizeKl(base, base, {1, 2, 3}, {32, true, 1.0}));
  EXPECT_EQ(three.tokens, 1);
  EXPECT_THAT(SummarizeKl(base, base, Text(10), {32, true, 0.0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SummarizeKl(base, base, Text(10), {}, [] { return true; }),
              StatusIs(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace prunegate::probe
