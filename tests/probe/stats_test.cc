// The statistics against hand-computed values, their exact zeros, and the paper's Taylor
// estimates (KL ≈ Var_p(δ)/(2T²), ang(p) ≈ Var_r(δ)/(2T²), ang(h) ≈ |Δ⊥|²/(2|h|²)).
#include "server/probe/stats.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate::probe {
namespace {

using ::prunegate::testing::StatusIs;

TEST(StatsTest, IdenticalInputsGiveExactlyZero) {
  torch::manual_seed(1);
  at::Tensor z = torch::randn({3, 500}) * 4;
  CompareOptions o;
  o.temperatures = {0.2, 0.7, 1.0};
  o.reference_ids = {1, 2, 3};
  PG_ASSERT_OK_AND_ASSIGN(auto rows, CompareLogits(z, z.clone(), o));
  for (const RowStats& r : rows) {
    EXPECT_EQ(r.logits.vector.ang, 0.0);
    EXPECT_EQ(r.logits.vector.ang_pred, 0.0);
    EXPECT_TRUE(r.logits.top1_agree);
    EXPECT_EQ(r.logits.topk_overlap, 1.0);
    for (const ProbStats& p : r.probs) {
      EXPECT_EQ(p.kl, 0.0);
      EXPECT_EQ(p.kl_pred, 0.0);
      EXPECT_EQ(p.ang, 0.0);
      EXPECT_EQ(p.ang_pred, 0.0);
      EXPECT_EQ(p.js, 0.0);
      EXPECT_EQ(p.tv, 0.0);
      EXPECT_EQ(p.dp_ref, 0.0);
      EXPECT_EQ(p.entropy_a, p.entropy_b);
    }
  }
  PG_ASSERT_OK_AND_ASSIGN(auto h, CompareVectors(z, z.clone()));
  EXPECT_EQ(h[0].ang, 0.0);
  EXPECT_EQ(h[0].ang_pred, 0.0);
  EXPECT_EQ(h[0].rel_delta, 0.0);
}

TEST(StatsTest, HandComputedTwoTokenCase) {
  // p = [1/2, 1/2], q = [3/4, 1/4].
  at::Tensor za = torch::tensor({{0.0, 0.0}}), zb = torch::tensor({{std::log(3.0), 0.0}});
  CompareOptions o;
  o.top_k = 1;
  o.reference_ids = {0};
  PG_ASSERT_OK_AND_ASSIGN(auto rows, CompareLogits(za, zb, o));
  const ProbStats& s = rows[0].probs[0];
  EXPECT_NEAR(s.kl, 0.5 * std::log(0.5 / 0.75) + 0.5 * std::log(0.5 / 0.25), 1e-6);
  EXPECT_NEAR(s.tv, 0.25, 1e-6);
  const double kpm = 0.5 * std::log(0.5 / 0.625) + 0.5 * std::log(0.5 / 0.375);
  const double kqm = 0.75 * std::log(0.75 / 0.625) + 0.25 * std::log(0.25 / 0.375);
  EXPECT_NEAR(s.js, 0.5 * (kpm + kqm), 1e-6);
  EXPECT_NEAR(s.entropy_a, std::log(2.0), 1e-6);
  EXPECT_NEAR(s.entropy_b, -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)), 1e-6);
  EXPECT_NEAR(s.dp_ref, 0.25, 1e-6);
  const double cos = (0.5 * 0.75 + 0.5 * 0.25) / (std::sqrt(0.5) * std::sqrt(0.625));
  EXPECT_NEAR(s.ang, 1 - cos, 1e-6);
  // Var_p(δ) with δ = [ln 3, 0], p uniform: (ln 3)^2 / 4.
  EXPECT_NEAR(s.kl_pred, std::pow(std::log(3.0), 2) / 4 / 2, 1e-6);
  EXPECT_TRUE(rows[0].logits.top1_agree);  // ties break toward the first id
}

TEST(StatsTest, HandComputedVectors) {
  PG_ASSERT_OK_AND_ASSIGN(auto v, CompareVectors(torch::tensor({{1.0, 0.0}, {1.0, 0.0}}),
                                                 torch::tensor({{0.0, 1.0}, {1.0, 1.0}})));
  EXPECT_NEAR(v[0].ang, 1.0, 1e-12);
  EXPECT_NEAR(v[1].ang, 1 - 1 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(v[1].ang_pred, 0.5, 1e-12);  // Δ⊥ = [0, 1], |a| = 1
  EXPECT_NEAR(v[1].rel_delta, 1.0, 1e-12);
  EXPECT_NEAR(v[1].norm_b, std::sqrt(2.0), 1e-12);
}

TEST(StatsTest, SmallPerturbationMatchesTheTaylorEstimatesAndScalesAsInverseTSquared) {
  torch::manual_seed(7);
  const int64_t v = 2000;
  at::Tensor za = torch::randn({4, v}, torch::kDouble) * 3;
  at::Tensor zb = za + torch::randn({4, v}, torch::kDouble) * 0.05;
  CompareOptions o;
  o.temperatures = {1.0, 2.0, 4.0};
  PG_ASSERT_OK_AND_ASSIGN(auto rows, CompareLogits(za, zb, o));
  for (const RowStats& r : rows) {
    for (const ProbStats& s : r.probs) {
      ASSERT_LT(s.kl, 0.01);
      EXPECT_NEAR(s.kl / s.kl_pred, 1.0, 0.05) << "T=" << s.temperature;
      EXPECT_NEAR(s.ang / s.ang_pred, 1.0, 0.10) << "T=" << s.temperature;
    }
  }
  // Where p hardly depends on T (flat baseline logits), Var_p(δ) is fixed and KL ∝ 1/T².
  at::Tensor flat = torch::randn({2, v}, torch::kDouble) * 0.02;
  PG_ASSERT_OK_AND_ASSIGN(
      auto flat_rows, CompareLogits(flat, flat + torch::randn({2, v}, torch::kDouble) * 0.05, o));
  for (const RowStats& r : flat_rows) {
    EXPECT_NEAR(r.probs[1].kl / r.probs[0].kl, 0.25, 0.25 * 0.05);
    EXPECT_NEAR(r.probs[2].kl / r.probs[0].kl, 1.0 / 16, 0.05 / 16);
  }
  // Hidden-state estimate for a small perturbation.
  at::Tensor h = torch::randn({2, 256}, torch::kDouble);
  PG_ASSERT_OK_AND_ASSIGN(auto hv,
                          CompareVectors(h, h + torch::randn({2, 256}, torch::kDouble) * 0.01));
  EXPECT_NEAR(hv[0].ang / hv[0].ang_pred, 1.0, 0.05);
}

// float32, vocabulary-sized, a perturbation so small that the textbook Σ p (log p − log q) is
// all rounding: the KL must still match the same statistics computed in float64 (relative 2%)
// and never be negative. A large perturbation at a low temperature (expm1 overflows in the
// precise form) falls back to the textbook form and still matches float64.
TEST(StatsTest, KlKeepsItsPrecisionInFloat32AndIsNeverNegative) {
  torch::manual_seed(11);
  const int64_t v = 32000;
  at::Tensor za = torch::randn({8, v}, torch::kDouble) * 4;
  CompareOptions o;
  o.temperatures = {0.25, 1.0};
  for (double scale : {1e-4, 1e-3, 3.0}) {
    at::Tensor zb = za + torch::randn({8, v}, torch::kDouble) * scale;
    PG_ASSERT_OK_AND_ASSIGN(auto f32, CompareLogits(za.to(torch::kFloat), zb.to(torch::kFloat), o));
    PG_ASSERT_OK_AND_ASSIGN(auto f64, CompareLogits(za, zb, o));
    for (size_t i = 0; i < f32.size(); ++i) {
      for (size_t k = 0; k < o.temperatures.size(); ++k) {
        const double got = f32[i].probs[k].kl, want = f64[i].probs[k].kl;
        EXPECT_GT(got, 0.0) << "scale " << scale;
        EXPECT_NEAR(got, want, 0.02 * want) << "scale " << scale << " T=" << o.temperatures[k];
      }
    }
  }
  // Large logits at a tiny temperature: u = δ/T overflows expm1 in float32.
  at::Tensor big = torch::randn({2, 1000}, torch::kDouble) * 30;
  o.temperatures = {0.01};
  PG_ASSERT_OK_AND_ASSIGN(auto big32,
                          CompareLogits(big.to(torch::kFloat), big.flip(-1).to(torch::kFloat), o));
  PG_ASSERT_OK_AND_ASSIGN(auto big64, CompareLogits(big, big.flip(-1), o));
  for (size_t i = 0; i < big32.size(); ++i) {
    const double got = big32[i].probs[0].kl, want = big64[i].probs[0].kl;
    ASSERT_TRUE(std::isfinite(got)) << got;
    EXPECT_GT(want, 100.0);
    EXPECT_NEAR(got, want, 1e-3 * want);
  }
}

// ang(p, q) ≈ Var_r(δ) / (2 T^2), r = p^2 / |p|^2, on a three-token vocabulary by hand.
TEST(StatsTest, AngEstimateIsTheRWeightedVarianceOfDelta) {
  // z_a = [0, ln 2, 0]: p = [1, 2, 1] / 4 at T = 1, r = [1, 4, 1] / 6. δ = [0.3, -0.1, 0.2].
  at::Tensor za = torch::tensor({{0.0, std::log(2.0), 0.0}}, torch::kDouble);
  at::Tensor zb = za + torch::tensor({{0.3, -0.1, 0.2}}, torch::kDouble);
  CompareOptions o;
  o.temperatures = {1.0, 0.5};
  o.top_k = 1;
  PG_ASSERT_OK_AND_ASSIGN(auto rows, CompareLogits(za, zb, o));
  // T = 1: E_r[δ] = (0.3 - 0.4 + 0.2) / 6 = 1/60; Var_r = E_r[δ^2] - E_r[δ]^2
  //   = (0.09 + 0.04 + 0.04) / 6 - 1/3600 = 0.17/6 - 1/3600.
  const double var1 = 0.17 / 6 - 1.0 / 3600;
  EXPECT_NEAR(rows[0].probs[0].ang_pred, var1 / 2, 1e-6);
  // T = 0.5: p ∝ [1, 4, 1], r ∝ [1, 16, 1] / 18; E_r[δ] = (0.3 - 1.6 + 0.2) / 18 = -1.1/18,
  //   E_r[δ^2] = (0.09 + 0.16 + 0.04) / 18 = 0.29/18; divided by 2 T^2 = 0.5.
  const double var2 = 0.29 / 18 - std::pow(1.1 / 18, 2);
  EXPECT_NEAR(rows[0].probs[1].ang_pred, var2 / 0.5, 1e-6);
  // And the measured ang is close to its estimate for this small δ.
  EXPECT_NEAR(rows[0].probs[0].ang / rows[0].probs[0].ang_pred, 1.0, 0.2);
}

TEST(StatsTest, ReferenceTop1OfTheBaselineGivesItsDeltaP) {
  // Row 0: p = softmax([2, 0, 1]), top-1 id 0; row 1: top-1 id 2.
  at::Tensor za = torch::tensor({{2.0, 0.0, 1.0}, {0.0, 0.5, 3.0}});
  at::Tensor zb = torch::tensor({{1.0, 0.0, 1.5}, {0.0, 0.5, 2.0}});
  CompareOptions o;
  o.temperatures = {1.0, 0.5};
  o.top_k = 1;
  o.reference_top1_a = true;
  PG_ASSERT_OK_AND_ASSIGN(auto rows, CompareLogits(za, zb, o));
  const int64_t top[] = {0, 2};
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(rows[i].logits.top1_a, top[i]);
    for (size_t k = 0; k < 2; ++k) {
      const double t = o.temperatures[k];
      const at::Tensor p = torch::softmax(za[i].to(torch::kDouble) / t, 0);
      const at::Tensor q = torch::softmax(zb[i].to(torch::kDouble) / t, 0);
      const double want = (q[top[i]] - p[top[i]]).item<double>();
      EXPECT_LT(want, -1e-3);
      EXPECT_NEAR(rows[i].probs[k].dp_ref, want, 1e-6) << "row " << i << " T=" << t;
    }
  }
  o.reference_ids = {0, 1};
  EXPECT_THAT(CompareLogits(za, zb, o),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("exclusive")));
}

TEST(StatsTest, TopKOverlapCountsSharedIds) {
  at::Tensor za = torch::tensor({{5.0, 4.0, 3.0, 2.0, 1.0}});
  at::Tensor zb = torch::tensor({{5.0, 1.0, 3.0, 2.0, 4.5}});  // top-3: {0, 4, 2} vs {0, 1, 2}
  CompareOptions o;
  o.top_k = 3;
  PG_ASSERT_OK_AND_ASSIGN(auto rows, CompareLogits(za, zb, o));
  EXPECT_NEAR(rows[0].logits.topk_overlap, 2.0 / 3, 1e-12);
  EXPECT_TRUE(rows[0].logits.top1_agree);
}

TEST(StatsTest, SubspaceIsASoftmaxOverTheCandidates) {
  at::Tensor za = torch::tensor({0.3, 2.0, -1.0, 0.5, 7.0});
  at::Tensor zb = torch::tensor({0.3, 1.0, -0.5, 0.9, -7.0});
  PG_ASSERT_OK_AND_ASSIGN(auto s, CompareSubspace(za, zb, {1, 3, 2}, {1.0, 0.5}));
  ASSERT_EQ(s.size(), 2u);
  for (const SubspaceStats& x : s) {
    const double t = x.temperature;
    const double ea[] = {std::exp(2.0 / t), std::exp(0.5 / t), std::exp(-1.0 / t)};
    const double eb[] = {std::exp(1.0 / t), std::exp(0.9 / t), std::exp(-0.5 / t)};
    double kl = 0, pq = 0, pp = 0, qq = 0;
    for (int i = 0; i < 3; ++i) {
      const double p = ea[i] / (ea[0] + ea[1] + ea[2]), q = eb[i] / (eb[0] + eb[1] + eb[2]);
      EXPECT_NEAR(x.p[i], p, 1e-6);  // float32 logits
      EXPECT_NEAR(x.q[i], q, 1e-6);
      kl += p * std::log(p / q);
      pq += p * q, pp += p * p, qq += q * q;
    }
    EXPECT_NEAR(x.kl, kl, 1e-6);
    EXPECT_NEAR(x.ang, 1 - pq / std::sqrt(pp * qq), 1e-6);
    EXPECT_GT(x.ang, 1e-3);
    EXPECT_EQ(x.argmax_a, 0);
    EXPECT_EQ(x.argmax_b, 0);
    EXPECT_TRUE(x.argmax_agree);
  }
}

TEST(StatsTest, RejectsBadInputs) {
  at::Tensor z = torch::zeros({2, 5});
  CompareOptions o;
  o.temperatures = {0.0};
  EXPECT_THAT(CompareLogits(z, z, o),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("temperature")));
  o.temperatures = {1.0};
  EXPECT_THAT(CompareLogits(z, torch::zeros({2, 6}), o),
              StatusIs(absl::StatusCode::kInvalidArgument));
  o.top_k = 6;
  EXPECT_THAT(CompareLogits(z, z, o), StatusIs(absl::StatusCode::kInvalidArgument));
  o.top_k = 2;
  o.reference_ids = {0};
  EXPECT_THAT(CompareLogits(z, z, o), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CompareSubspace(z[0], z[0], {1}, {1.0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CompareSubspace(z[0], z[0], {1, 9}, {1.0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CompareSubspace(z[0], z[0], {1, 2}, {-1.0}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace prunegate::probe
