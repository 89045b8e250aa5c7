// Layer ranking, the pruning-layer advisor the paper leaves open (DESIGN.md, "API shape":
// RankLayers): for a recipe family (drop attention, drop MLP) and calibration prompts, what
// removing each sublayer alone does to the baseline, measured and predicted, next to the paper's
// importance score, and the layers ordered from least to most damaging.
//
// Per layer, averaged over every position of every prompt:
//   - the importance score, mean cos(X, X + F(norm X)) (prune::ScoreImportance);
//   - local: h_a = x + f(norm x) vs h_b = x, compared in hidden space and through the logit lens
//     (1 - cos of h, z and p with their Theorem estimates, KL and Var_p(δ)/(2T²) per temperature,
//     top-1 agreement of the lens);
//   - propagated: x carried through the remaining baseline layers, the final output compared
//     with the baseline's (KL per temperature, top-1 agreement).
// One layer probe (propagated, every position) of the candidate that drops the whole family
// gives all of it: the probe walks the baseline's stream, so each record is "this sublayer alone
// removed".
#ifndef PRUNEGATE_SERVER_PROBE_LAYER_RANKING_H_
#define PRUNEGATE_SERVER_PROBE_LAYER_RANKING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/model.h"
#include "server/model/transformer.h"
#include "server/probe/layer_probe.h"
#include "server/prune/drop.h"

namespace prunegate::probe {

struct LayerRankingOptions {
  prune::DropKind family = prune::DropKind::kMlp;  // kAttention or kMlp (kBlock: INVALID_ARGUMENT)
  std::vector<double> temperatures = {1.0};        // the first one orders the ranking
  Lens lens = Lens::kNormHead;
};

// Probability-space damage of one sublayer's removal at one temperature (means over positions).
struct TemperatureDamage {
  double temperature = 1;
  double kl = 0;             // lens KL(p || q), p = softmax(lens(h_a) / T)
  double kl_pred = 0;        // Var_p(δ) / (2 T^2), δ = lens(h_b) - lens(h_a)
  double ang_p = 0;          // 1 - cos(p, q) of the lens distributions
  double ang_p_pred = 0;     // Var_r(δ) / (2 T^2)
  double propagated_kl = 0;  // KL of the final outputs, the sublayer alone removed
};

struct LayerDamage {
  int layer = 0;
  Sublayer sublayer = Sublayer::kMlp;
  double importance = 0;  // mean cos(X, X + F(norm X)); higher = less useful by the score
  double ang_h = 0, ang_h_pred = 0;  // 1 - cos(h_a, h_b) and |Δh⊥|^2 / (2 |h_a|^2)
  double ang_z = 0, ang_z_pred = 0;  // the same for the lens logits
  double top1 = 0;                   // fraction of positions where both lenses' top-1 agree
  double propagated_top1 = 0;        // the same for the final outputs
  std::vector<TemperatureDamage> temperatures;  // one per option temperature, in that order
  int damage_rank = 0;      // 1 = least damaging (smallest propagated KL at the first T)
  int importance_rank = 0;  // 1 = most similar: the layer the importance score drops first
};

struct LayerRanking {
  prune::DropKind family = prune::DropKind::kMlp;
  std::vector<double> temperatures;
  int64_t prompts = 0;
  int64_t positions = 0;  // positions each layer's means are taken over (all prompts' tokens)
  // Every layer whose sublayer the baseline has, from least to most damaging by the measured
  // propagated KL at temperatures[0] (ties: lower layer first).
  std::vector<LayerDamage> layers;
  // The same layers as the importance score orders them: most similar (first dropped) first.
  std::vector<int> by_importance;
};

// Progress after each unit of work: stage "importance" (1 unit: the scoring pass) then "probe"
// (one unit per prompt).
struct RankProgress {
  std::string stage;
  int64_t done = 0;
  int64_t total = 0;
};

// INVALID_ARGUMENT for no prompts, an empty prompt, ids outside the vocabulary, a prompt beyond
// max_position_embeddings, invalid temperatures, kBlock, or a baseline with no sublayer of the
// family left. `cancelled` is polled between importance batches, prompts and layers (CANCELLED).
absl::StatusOr<LayerRanking> RankLayers(
    std::shared_ptr<const Model> baseline, const std::vector<std::vector<int64_t>>& prompts,
    const LayerRankingOptions& options,
    const std::function<void(const RankProgress&)>& progress = {},
    const std::function<bool()>& cancelled = {});

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_LAYER_RANKING_H_
