#include "server/model/sampler.h"

#include <cmath>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate {
namespace {

using ::prunegate::testing::StatusIs;

at::Tensor LogProbs(std::vector<double> p) {
  at::Tensor t = torch::tensor(p, torch::kDouble).log().to(torch::kFloat);
  return t;
}

std::vector<double> Frequencies(Sampler& s, const at::Tensor& logits, int n) {
  std::vector<double> f(logits.numel(), 0);
  for (int i = 0; i < n; ++i) f[s.Sample(logits)] += 1.0 / n;
  return f;
}

TEST(SamplerTest, GreedyIsFirstArgmax) {
  Sampler s({});
  EXPECT_EQ(s.Sample(torch::tensor({0.1f, 2.0f, -1.0f, 2.0f})), 1);
  EXPECT_EQ(s.Sample(torch::tensor({5.0f, 2.0f})), 0);
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferentTokens) {
  at::Tensor logits = torch::randn({500}, torch::TensorOptions().dtype(torch::kFloat));
  auto run = [&](uint64_t seed) {
    Sampler s({1.0, 0, 1.0, seed});
    std::vector<int64_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.Sample(logits));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(SamplerTest, FixedSeedGivesFixedTokensAcrossBuilds) {
  // std::mt19937_64 is specified exactly by the standard and the float conversion is ours, so
  // these draws are the same on every platform and libtorch version.
  Sampler s({1.0, 0, 1.0, 7});
  at::Tensor logits = LogProbs({0.25, 0.25, 0.25, 0.25});
  std::vector<int64_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(s.Sample(logits));
  std::mt19937_64 rng(7);
  std::vector<int64_t> want;
  for (int i = 0; i < 8; ++i) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    want.push_back(std::min<int64_t>(3, static_cast<int64_t>(u * 4)));
  }
  EXPECT_EQ(got, want);
}

TEST(SamplerTest, TemperatureOneFollowsTheDistribution) {
  Sampler s({1.0, 0, 1.0, 1});
  auto f = Frequencies(s, LogProbs({0.5, 0.3, 0.2}), 40000);
  EXPECT_NEAR(f[0], 0.5, 0.015);
  EXPECT_NEAR(f[1], 0.3, 0.015);
  EXPECT_NEAR(f[2], 0.2, 0.015);
}

TEST(SamplerTest, TemperatureSharpensAndFlattens) {
  at::Tensor z = LogProbs({0.5, 0.3, 0.2});
  for (double t : {0.5, 2.0}) {
    Sampler s({t, 0, 1.0, 3});
    auto f = Frequencies(s, z, 40000);
    at::Tensor want = torch::softmax(z.to(torch::kDouble) / t, 0);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(f[i], want[i].item<double>(), 0.015) << "T=" << t;
  }
}

TEST(SamplerTest, TopKKeepsOnlyTheKBest) {
  at::Tensor z = torch::tensor({1.0f, 5.0f, 3.0f, 4.0f, 2.0f});
  Sampler s({5.0, 3, 1.0, 9});  // high temperature: all five would appear without top-k
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(s.Sample(z));
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2, 3}));
  Sampler k1({5.0, 1, 1.0, 9});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(k1.Sample(z), 1);
}

TEST(SamplerTest, TopPKeepsTheSmallestSetReachingP) {
  at::Tensor z = LogProbs({0.1, 0.45, 0.3, 0.15});
  // Sorted: 0.45, 0.3, 0.15, 0.1; p = 0.7 needs {1, 2} (0.75 >= 0.7).
  Sampler s({1.0, 0, 0.7, 5});
  auto f = Frequencies(s, z, 30000);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_EQ(f[3], 0.0);
  EXPECT_NEAR(f[1], 0.45 / 0.75, 0.015);
  EXPECT_NEAR(f[2], 0.3 / 0.75, 0.015);
  Sampler tiny({1.0, 0, 1e-6, 5});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(tiny.Sample(z), 1);
}

TEST(SamplerTest, BatchDrawsOnePerRow) {
  Sampler s({});
  at::Tensor z = torch::tensor({{0.0f, 1.0f}, {3.0f, 1.0f}});
  EXPECT_EQ(s.SampleBatch(z), (std::vector<int64_t>{1, 0}));
}

TEST(SamplerTest, ValidatesOptions) {
  EXPECT_THAT(ValidateSamplingOptions({-0.5, 0, 1.0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("temperature")));
  EXPECT_THAT(ValidateSamplingOptions({NAN, 0, 1.0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateSamplingOptions({1.0, -1, 1.0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("top_k")));
  EXPECT_THAT(ValidateSamplingOptions({1.0, 0, 0.0, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("top_p")));
  EXPECT_THAT(ValidateSamplingOptions({1.0, 0, 1.5, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(ValidateSamplingOptions({0.7, 40, 0.9, 1}).ok());
}

}  // namespace
}  // namespace prunegate
