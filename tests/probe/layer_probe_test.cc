#include "server/probe/layer_probe.h"

#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
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

LayerProbeOptions Options() {
  LayerProbeOptions o;
  o.temperatures = {0.5, 1.0};
  o.top_k = 5;
  return o;
}

std::shared_ptr<const Model> DeepCopy(const Model& m) {
  ModelWeights w = m.weights();
  for (LayerWeights& l : w.layers) {
    for (at::Tensor* t : {&l.input_norm, &l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj,
                          &l.post_attention_norm, &l.gate_proj, &l.up_proj, &l.down_proj}) {
      *t = t->clone();
    }
  }
  return Model::FromWeights(m.config(), w).value();
}

// The baseline's stream at one sublayer: its input x and output f(norm x), (1, S, H) each.
std::pair<at::Tensor, at::Tensor> CaptureSublayer(std::shared_ptr<const Model> m,
                                                  const std::vector<int64_t>& ids, int layer,
                                                  Sublayer sublayer) {
  class Capture : public SublayerTap {
   public:
    Capture(int layer, Sublayer sublayer) : layer_(layer), sublayer_(sublayer) {}
    void OnSublayer(int layer, Sublayer sub, const at::Tensor& x, at::Tensor& out) override {
      if (layer == layer_ && sub == sublayer_) x_ = x.clone(), f_ = out.clone();
    }
    int layer_;
    Sublayer sublayer_;
    at::Tensor x_, f_;
  } cap(layer, sublayer);
  c10::InferenceMode guard;
  EXPECT_TRUE(Session::Create(m).value()->Feed({ids}, LogitsMode::kNone, &cap).ok());
  return {cap.x_, cap.f_};
}

// q(t) - p(t) at temperature T for the baseline's top-1 token t = argmax z_a, in float64.
double DeltaPOfTop1(const at::Tensor& za, const at::Tensor& zb, double t) {
  c10::InferenceMode guard;
  const int64_t top = za.argmax().item<int64_t>();
  const at::Tensor p = torch::softmax(za.to(torch::kDouble) / t, 0);
  const at::Tensor q = torch::softmax(zb.to(torch::kDouble) / t, 0);
  return (q[top] - p[top]).item<double>();
}

TEST(LayerProbeTest, IdenticalCandidateGivesZerosEverywhere) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto probe, LayerProbe::Create(base, base, Options()));
  PG_ASSERT_OK_AND_ASSIGN(auto recs, probe->Feed({3, 1, 4, 1, 5}));
  ASSERT_EQ(recs.size(), 6u);  // 3 layers x 2 sublayers, last position
  for (const auto& r : recs) {
    EXPECT_TRUE(r.shared);
    EXPECT_EQ(r.position, 4);
    EXPECT_EQ(r.hidden.ang, 0.0);
    for (const auto& p : r.lens.probs) EXPECT_EQ(p.kl, 0.0);
  }
}

TEST(LayerProbeTest, UnsharedCopyKeepsItsOwnCacheExactAcrossDecodeSteps) {
  auto base = MakeRandomModel(SmallConfig());
  auto copy = DeepCopy(*base);  // same values, separate storage: computed, not reused
  PG_ASSERT_OK_AND_ASSIGN(auto probe, LayerProbe::Create(base, copy, Options()));
  for (const std::vector<int64_t>& chunk :
       std::vector<std::vector<int64_t>>{{3, 1, 4, 1}, {5}, {9}, {2, 6}}) {
    PG_ASSERT_OK_AND_ASSIGN(auto recs, probe->Feed(chunk));
    for (const auto& r : recs) {
      EXPECT_FALSE(r.shared);
      EXPECT_LT(r.hidden.ang, 1e-10) << "layer " << r.layer << " at " << r.position;
      // Not exactly 0: the copy's GEMMs may take other kernels than the baseline's (seen on the
      // CI machine: KL up to 9e-8 before KlDivergenceRows, hidden 1 - cos below 1e-10). A stale
      // or wrong cache gives KL many orders of magnitude above this bound.
      EXPECT_LT(r.lens.probs[1].kl, 1e-6);
    }
  }
  EXPECT_EQ(probe->length(), 8);
}

// A candidate whose attention really differs from the baseline's: layer 0's attention dropped,
// layers 1 and 2 with perturbed q/k/v/o (their own storage); every other tensor shared.
std::shared_ptr<const Model> PerturbedAttention(const Model& base) {
  auto dropped = prune::DropLayers(base, prune::DropKind::kAttention, {0}).value();
  ModelWeights w = dropped->weights();
  torch::manual_seed(3);
  c10::InferenceMode guard;
  for (int layer : {1, 2}) {
    LayerWeights& l = w.layers[layer];
    for (at::Tensor* t : {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj}) {
      *t = *t * (1 + 0.3 * torch::randn_like(*t));
    }
  }
  return Model::FromWeights(base.config(), w).value();
}

TEST(LayerProbeTest, CandidateCacheOfADifferentAttentionGivesTheSameRecordsInChunks) {
  auto base = MakeRandomModel(SmallConfig());
  auto cand = PerturbedAttention(*base);
  LayerProbeOptions o = Options();
  o.all_positions = true;
  const std::vector<std::vector<int64_t>> chunks = {{3, 1, 4, 1}, {5}, {9}, {2, 6}};
  std::vector<int64_t> all;
  for (const auto& c : chunks) all.insert(all.end(), c.begin(), c.end());
  PG_ASSERT_OK_AND_ASSIGN(auto whole_probe, LayerProbe::Create(base, cand, o));
  PG_ASSERT_OK_AND_ASSIGN(auto whole, whole_probe->Feed(all));
  PG_ASSERT_OK_AND_ASSIGN(auto chunked_probe, LayerProbe::Create(base, cand, o));
  std::vector<SublayerRecord> chunked;
  for (const auto& c : chunks) {
    PG_ASSERT_OK_AND_ASSIGN(auto recs, chunked_probe->Feed(c));
    chunked.insert(chunked.end(), recs.begin(), recs.end());
  }
  ASSERT_EQ(whole.size(), 3u * 2 * all.size());
  ASSERT_EQ(chunked.size(), whole.size());
  auto key = [](const SublayerRecord& r) {
    return std::make_tuple(r.layer, static_cast<int>(r.sublayer), r.position);
  };
  std::map<std::tuple<int, int, int64_t>, const SublayerRecord*> by_key;
  for (const auto& r : whole) by_key[key(r)] = &r;
  auto close = [](double got, double want) {
    return std::abs(got - want) <= 1e-6 + 1e-4 * std::abs(want);
  };
  int changed = 0;
  for (const SublayerRecord& r : chunked) {
    const SublayerRecord& w = *by_key.at(key(r));
    const std::string where = absl::StrCat("layer ", r.layer, " sublayer ",
                                           static_cast<int>(r.sublayer), " at ", r.position);
    EXPECT_EQ(r.dropped, w.dropped) << where;
    EXPECT_EQ(r.shared, w.shared) << where;
    EXPECT_PRED2(close, r.hidden.ang, w.hidden.ang) << where;
    EXPECT_PRED2(close, r.lens.logits.vector.ang, w.lens.logits.vector.ang) << where;
    EXPECT_EQ(r.lens.logits.top1_b, w.lens.logits.top1_b) << where;
    for (size_t t = 0; t < 2; ++t) {
      EXPECT_PRED2(close, r.lens.probs[t].kl, w.lens.probs[t].kl) << where;
      EXPECT_PRED2(close, r.lens.probs[t].js, w.lens.probs[t].js) << where;
      EXPECT_PRED2(close, r.lens.probs[t].dp_ref, w.lens.probs[t].dp_ref) << where;
    }
    if (r.sublayer == Sublayer::kAttention) {
      EXPECT_FALSE(r.shared) << where;
      // The candidate's attention differs: the records are far from zero.
      EXPECT_GT(r.hidden.ang, 1e-4) << where;
      EXPECT_GT(r.lens.probs[1].kl, 1e-4) << where;
      EXPECT_NE(r.lens.probs[1].dp_ref, 0.0) << where;
      ++changed;
    } else {
      EXPECT_TRUE(r.shared) << where;
      EXPECT_EQ(r.lens.probs[1].kl, 0.0) << where;
    }
  }
  EXPECT_EQ(changed, 3 * 8);
}

TEST(LayerProbeTest, DroppedSublayerMatchesAHandComputedComparison) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kMlp, {1}));
  LayerProbeOptions o = Options();
  o.all_positions = true;
  PG_ASSERT_OK_AND_ASSIGN(auto probe, LayerProbe::Create(base, cand, o));
  const std::vector<int64_t> ids = {7, 8, 9, 10};
  PG_ASSERT_OK_AND_ASSIGN(auto recs, probe->Feed(ids));
  ASSERT_EQ(recs.size(), 3u * 2 * 4);
  // The baseline's stream at (layer 1, MLP): x and f_a(norm x), captured with a tap.
  const auto [x, f] = CaptureSublayer(base, ids, 1, Sublayer::kMlp);
  PG_ASSERT_OK_AND_ASSIGN(auto want, CompareVectors((x + f)[0], x[0]));
  CompareOptions co;
  co.temperatures = o.temperatures;
  co.top_k = o.top_k;
  at::Tensor za, zb;
  {
    c10::InferenceMode guard;
    za = Transformer::Logits(*base, (x + f)[0]);
    zb = Transformer::Logits(*base, x[0]);
  }
  PG_ASSERT_OK_AND_ASSIGN(auto want_lens, CompareLogits(za, zb, co));
  int seen = 0;
  for (const auto& r : recs) {
    if (r.layer == 1 && r.sublayer == Sublayer::kMlp) {
      EXPECT_TRUE(r.dropped);
      EXPECT_NEAR(r.hidden.ang, want[r.position].ang, 1e-6);
      EXPECT_GT(r.lens.probs[0].kl, 0.0);
      for (size_t t = 0; t < 2; ++t) {
        const auto& w = want_lens[r.position].probs[t];  // float32 sums: relative tolerance
        EXPECT_NEAR(r.lens.probs[t].kl, w.kl, 1e-5 * std::max(1.0, w.kl));
        EXPECT_NEAR(r.lens.probs[t].js, w.js, 1e-5 * std::max(1.0, w.js));
      }
      EXPECT_NEAR(r.lens.logits.vector.ang, want_lens[r.position].logits.vector.ang, 1e-6);
      // Δp of the baseline lens's top-1 token, by hand.
      for (size_t t = 0; t < 2; ++t) {
        const double dp = DeltaPOfTop1(za[r.position], zb[r.position], o.temperatures[t]);
        EXPECT_NE(r.lens.probs[t].dp_ref, 0.0);
        EXPECT_NEAR(r.lens.probs[t].dp_ref, dp, 1e-6) << "position " << r.position;
      }
      ++seen;
    } else {
      EXPECT_FALSE(r.dropped);
      EXPECT_EQ(r.hidden.ang, 0.0);  // other sublayers shared: h_b == h_a on the baseline stream
      EXPECT_EQ(r.lens.probs[0].dp_ref, 0.0);
    }
  }
  EXPECT_EQ(seen, 4);
}

TEST(LayerProbeTest, RawLensIsTheLmHeadWithoutTheFinalNorm) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kMlp, {1}));
  LayerProbeOptions o = Options();
  o.all_positions = true;
  PG_ASSERT_OK_AND_ASSIGN(auto norm_probe, LayerProbe::Create(base, cand, o));
  o.lens = Lens::kRaw;
  PG_ASSERT_OK_AND_ASSIGN(auto raw_probe, LayerProbe::Create(base, cand, o));
  const std::vector<int64_t> ids = {7, 8, 9, 10};
  PG_ASSERT_OK_AND_ASSIGN(auto norm, norm_probe->Feed(ids));
  PG_ASSERT_OK_AND_ASSIGN(auto raw, raw_probe->Feed(ids));
  ASSERT_EQ(norm.size(), raw.size());
  // Row 2 of (layer 1, MLP) by hand: z = W_lm h, no final norm; h_a = x + f, h_b = x.
  const int64_t row = 2;
  const auto [x, f] = CaptureSublayer(base, ids, 1, Sublayer::kMlp);
  at::Tensor za, zb;
  {
    c10::InferenceMode guard;
    const at::Tensor w = base->weights().lm_head;  // (V, H)
    za = torch::matmul((x + f)[0][row], w.t()).unsqueeze(0);
    zb = torch::matmul(x[0][row], w.t()).unsqueeze(0);
  }
  CompareOptions co;
  co.temperatures = o.temperatures;
  co.top_k = o.top_k;
  co.reference_top1_a = true;
  PG_ASSERT_OK_AND_ASSIGN(auto want, CompareLogits(za, zb, co));
  int seen = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    const SublayerRecord &r = raw[i], &n = norm[i];
    ASSERT_EQ(r.layer, n.layer);
    ASSERT_EQ(r.position, n.position);
    EXPECT_EQ(r.hidden.ang, n.hidden.ang);  // the same hidden rows, only the lens differs
    if (!r.dropped || r.position != row) continue;
    ++seen;
    EXPECT_NEAR(r.lens.logits.vector.norm_a, want[0].logits.vector.norm_a,
                1e-5 * want[0].logits.vector.norm_a);
    EXPECT_NEAR(r.lens.logits.vector.ang, want[0].logits.vector.ang, 1e-6);
    for (size_t t = 0; t < 2; ++t) {
      const double w = want[0].probs[t].kl;
      EXPECT_NEAR(r.lens.probs[t].kl, w, 1e-5 * std::max(1.0, w));
      EXPECT_NEAR(r.lens.probs[t].dp_ref, want[0].probs[t].dp_ref, 1e-5);  // float32 logits
      // The norm lens sees other logits: different statistics for the same record.
      EXPECT_GT(std::abs(r.lens.probs[t].kl - n.lens.probs[t].kl), 1e-3 * w);
    }
    EXPECT_GT(std::abs(r.lens.logits.vector.norm_a - n.lens.logits.vector.norm_a), 1e-3);
  }
  EXPECT_EQ(seen, 1);
}

// Logits of the last position after feeding `chunks` one after another through a session.
at::Tensor SessionLogits(std::shared_ptr<const Model> m,
                         const std::vector<std::vector<int64_t>>& chunks) {
  c10::InferenceMode guard;
  auto session = Session::Create(m).value();
  at::Tensor z;
  for (const auto& c : chunks) z = session->Feed({c}, LogitsMode::kLast).value();
  return z.reshape({-1, m->config().vocab_size})[-1].to(torch::kFloat);
}

TEST(LayerProbeTest, PropagatedOutputOfTheOnlyChangedSublayerIsTheCandidatesOwnOutput) {
  // A candidate that differs from the baseline in one sublayer only is exactly "h_b carried
  // through the rest of the baseline", so the propagated comparison must equal comparing the two
  // models' real output logits.
  auto base = MakeRandomModel(SmallConfig());
  for (auto kind : {prune::DropKind::kAttention, prune::DropKind::kMlp}) {
    PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, kind, {1}));
    LayerProbeOptions o = Options();
    o.mode = LayerProbeMode::kPropagated;
    PG_ASSERT_OK_AND_ASSIGN(auto probe, LayerProbe::Create(base, cand, o));
    const std::vector<int64_t> ids = {7, 8, 9, 10, 11};
    PG_ASSERT_OK_AND_ASSIGN(auto recs, probe->Feed(ids));
    CompareOptions co;
    co.temperatures = o.temperatures;
    co.top_k = o.top_k;
    at::Tensor za = SessionLogits(base, {ids}).unsqueeze(0);
    at::Tensor zb = SessionLogits(cand, {ids}).unsqueeze(0);
    PG_ASSERT_OK_AND_ASSIGN(auto want, CompareLogits(za, zb, co));
    ASSERT_GT(want[0].probs[0].kl, 1e-6);
    for (const auto& r : recs) {
      ASSERT_TRUE(r.has_propagated);
      if (r.dropped) {
        EXPECT_EQ(r.layer, 1);
        EXPECT_NEAR(r.propagated.logits.vector.ang, want[0].logits.vector.ang, 1e-6);
        for (size_t t = 0; t < 2; ++t) {
          const double w = want[0].probs[t].kl;
          EXPECT_NEAR(r.propagated.probs[t].kl, w, 1e-4 * std::max(1.0, w));
        }
      } else {
        EXPECT_EQ(r.propagated.probs[0].kl, 0.0) << r.layer;  // shared: exactly the baseline
        EXPECT_EQ(r.propagated_hidden.ang, 0.0);
      }
    }
    // The baseline's cache survives the propagation: the next step is still exact.
    PG_ASSERT_OK_AND_ASSIGN(auto next, probe->Feed({12}));
    at::Tensor z_next = SessionLogits(base, {ids, {12}});
    EXPECT_LT((probe->last_logits() - z_next).abs().max().item<double>(), 1e-4);
  }
}

TEST(LayerProbeTest, PropagatedDamageOfTheLastMlpEqualsItsLocalNormLens) {
  auto base = MakeRandomModel(SmallConfig());
  PG_ASSERT_OK_AND_ASSIGN(auto cand, prune::DropLayers(*base, prune::DropKind::kMlp, {2}));
  LayerProbeOptions o = Options();
  o.mode = LayerProbeMode::kPropagated;
  o.all_positions = true;
  PG_ASSERT_OK_AND_ASSIGN(auto probe, LayerProbe::Create(base, cand, o));
  PG_ASSERT_OK_AND_ASSIGN(auto recs, probe->Feed({4, 5, 6}));
  int seen = 0;
  for (const auto& r : recs) {
    if (!r.dropped) continue;
    ++seen;
    EXPECT_NEAR(r.propagated.probs[1].kl, r.lens.probs[1].kl,
                1e-6 * std::max(1.0, r.lens.probs[1].kl));
  }
  EXPECT_EQ(seen, 3);
}

TEST(LayerProbeTest, RejectsMismatchedPairsBadIdsAndStopsWhenCancelled) {
  auto base = MakeRandomModel(SmallConfig());
  ModelConfig other = SmallConfig();
  other.vocab_size = 64;
  auto wrong = MakeRandomModel(other);
  EXPECT_THAT(LayerProbe::Create(base, wrong, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("vocab_size")));
  LayerProbeOptions bad = Options();
  bad.temperatures = {0};
  EXPECT_THAT(LayerProbe::Create(base, base, bad), StatusIs(absl::StatusCode::kInvalidArgument));
  PG_ASSERT_OK_AND_ASSIGN(auto probe, LayerProbe::Create(base, base, Options()));
  EXPECT_THAT(probe->Feed({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(probe->Feed({61}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(probe->Feed({1, 2}, [] { return true; }), StatusIs(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace prunegate::probe
