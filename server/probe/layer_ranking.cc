#include "server/probe/layer_ranking.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "torch/torch.h"

namespace prunegate::probe {
namespace {

// Adds one record's statistics (this sublayer removed, at one position) to `row`.
void Accumulate(const SublayerRecord& r, LayerDamage* row) {
  row->ang_h += r.hidden.ang;
  row->ang_h_pred += r.hidden.ang_pred;
  row->ang_z += r.lens.logits.vector.ang;
  row->ang_z_pred += r.lens.logits.vector.ang_pred;
  row->top1 += r.lens.logits.top1_agree;
  row->propagated_top1 += r.propagated.logits.top1_agree;
  for (size_t t = 0; t < row->temperatures.size(); ++t) {
    TemperatureDamage& d = row->temperatures[t];
    const ProbStats& p = r.lens.probs[t];
    d.ang_p += p.ang;
    d.ang_p_pred += p.ang_pred;
    d.kl += p.kl;
    d.kl_pred += p.kl_pred;
    d.propagated_kl += r.propagated.probs[t].kl;
  }
}

void Divide(double n, LayerDamage* row) {
  const double d = std::max(1.0, n);
  for (double* x : {&row->ang_h, &row->ang_h_pred, &row->ang_z, &row->ang_z_pred, &row->top1,
                    &row->propagated_top1}) {
    *x /= d;
  }
  for (TemperatureDamage& t : row->temperatures) {
    for (double* x : {&t.ang_p, &t.ang_p_pred, &t.kl, &t.kl_pred, &t.propagated_kl}) *x /= d;
  }
}

}  // namespace

absl::StatusOr<LayerRanking> RankLayers(std::shared_ptr<const Model> baseline,
                                        const std::vector<std::vector<int64_t>>& prompts,
                                        const LayerRankingOptions& options,
                                        const std::function<void(const RankProgress&)>& progress,
                                        const std::function<bool()>& cancelled) {
  if (options.family == prune::DropKind::kBlock) {
    return absl::InvalidArgumentError(
        "layers are ranked per sublayer family: drop-attention or drop-mlp, not drop-block");
  }
  if (prompts.empty()) return absl::InvalidArgumentError("no prompts to rank the layers on");
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " has no tokens"));
    }
  }
  PG_RETURN_IF_ERROR(ValidateTemperatures(options.temperatures));
  const Sublayer want =
      options.family == prune::DropKind::kAttention ? Sublayer::kAttention : Sublayer::kMlp;
  std::vector<int> present;
  for (int l = 0; l < baseline->num_layers(); ++l) {
    const LayerWeights& w = baseline->weights().layers[l];
    if (want == Sublayer::kAttention ? w.has_attention() : w.has_mlp()) present.push_back(l);
  }
  if (present.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the baseline has no ", SublayerName(want), " sublayer left to rank"));
  }
  c10::InferenceMode guard;
  auto report = [&](const char* stage, int64_t done, int64_t total) {
    if (progress) progress({stage, done, total});
  };

  PG_ASSIGN_OR_RETURN(std::vector<prune::ImportanceScore> importance,
                      prune::ScoreImportance(baseline, options.family, prompts, 8, cancelled));
  report("importance", 1, 1);

  // The candidate without any sublayer of the family: each record of the baseline walk then
  // compares h_a with h_b = x, the sublayer alone removed.
  PG_ASSIGN_OR_RETURN(std::shared_ptr<const Model> candidate,
                      prune::DropLayers(*baseline, options.family, present));
  LayerProbeOptions po;
  po.mode = LayerProbeMode::kPropagated;
  po.all_positions = true;
  po.temperatures = options.temperatures;
  po.lens = options.lens;
  std::vector<LayerDamage> rows(baseline->num_layers());
  for (LayerDamage& row : rows) {
    for (double t : options.temperatures) row.temperatures.push_back({t});
  }
  std::vector<int64_t> n(baseline->num_layers(), 0);
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (cancelled && cancelled()) return absl::CancelledError("layer ranking cancelled");
    PG_ASSIGN_OR_RETURN(auto layer_probe, LayerProbe::Create(baseline, candidate, po));
    PG_ASSIGN_OR_RETURN(std::vector<SublayerRecord> records,
                        layer_probe->Feed(prompts[i], cancelled));
    for (const SublayerRecord& r : records) {
      if (r.sublayer != want || !r.dropped) continue;
      Accumulate(r, &rows[r.layer]);
      ++n[r.layer];
    }
    report("probe", static_cast<int64_t>(i) + 1, static_cast<int64_t>(prompts.size()));
  }

  LayerRanking out;
  out.family = options.family;
  out.temperatures = options.temperatures;
  out.prompts = static_cast<int64_t>(prompts.size());
  for (const auto& p : prompts) out.positions += static_cast<int64_t>(p.size());
  for (int l : present) {
    LayerDamage row = std::move(rows[l]);
    Divide(static_cast<double>(n[l]), &row);
    row.layer = l;
    row.sublayer = want;
    for (const prune::ImportanceScore& s : importance) {
      if (s.layer == l) row.importance = s.similarity;
    }
    out.layers.push_back(std::move(row));
  }
  // Importance order as prune::ChooseLayers takes it (stable: ties keep layer order).
  std::vector<LayerDamage*> by_score;
  for (LayerDamage& row : out.layers) by_score.push_back(&row);
  std::stable_sort(
      by_score.begin(), by_score.end(),
      [](const LayerDamage* a, const LayerDamage* b) { return a->importance > b->importance; });
  for (size_t i = 0; i < by_score.size(); ++i) {
    by_score[i]->importance_rank = static_cast<int>(i) + 1;
    out.by_importance.push_back(by_score[i]->layer);
  }
  std::stable_sort(
      out.layers.begin(), out.layers.end(), [](const LayerDamage& a, const LayerDamage& b) {
        return a.temperatures.front().propagated_kl < b.temperatures.front().propagated_kl;
      });
  for (size_t i = 0; i < out.layers.size(); ++i) {
    out.layers[i].damage_rank = static_cast<int>(i) + 1;
  }
  return out;
}

}  // namespace prunegate::probe
