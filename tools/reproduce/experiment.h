// The paper's experiment in miniature (issue 4, "How we know it is right" 2 and 3): drop k
// attention sublayers, MLP sublayers or whole blocks of a trained model (k = 1 .. L/2, chosen by
// the importance score), measure what happens to each task with the evaluator, what the probes
// see, and what the verdicts say, and how often the verdicts agree with the measured outcome.
#ifndef PRUNEGATE_TOOLS_REPRODUCE_EXPERIMENT_H_
#define PRUNEGATE_TOOLS_REPRODUCE_EXPERIMENT_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/probe/layer_ranking.h"
#include "server/prune/drop.h"
#include "server/verdict/policy.h"
#include "server/verdict/verdict.h"

namespace prunegate::reproduce {

struct ExperimentOptions {
  std::string model_dir;
  std::string tasks_dir;   // default model_dir/tasks
  int64_t per_task = 100;  // items per task (FirstItemsPerTask)
  // The verdicts read their evidence from the next per_task items of every task (items
  // [per_task, 2 * per_task), tasks::ItemsPerTask), never from the items the outcome is scored
  // on, so an accuracy rule cannot agree with the outcome by measuring it. Where a task file is
  // too short for a second slice, that task's evidence falls back to the outcome items and the
  // report says so.
  bool disjoint_evidence = true;
  int max_k = 0;                                       // 0 = num_layers / 2
  std::vector<double> temperatures = {0.2, 0.7, 1.0};  // verdict and outcome temperatures
  std::vector<double> stat_temperatures = {0.25, 0.5, 1.0, 2.0};  // the 1/T^2 table
  int64_t trace_prompts = 24;
  int64_t trace_steps = 24;
  uint64_t seed = 1;
  verdict::Policy policy = verdict::DefaultPolicy();
  std::function<void(const std::string&)> log;  // progress lines (optional)
};

// A model directory without a tasks/ folder (e.g. stories260K) is run in generation-only mode:
// story openings as prompts, and as the outcome the agreement of the candidate's sampled
// continuation with the baseline's (same seeds), token by token; the baseline scores 1.

// Task scores of one model (baseline or variant).
struct Scores {
  double knowledge_gen = 0;  // greedy exact match (the headline generation score)
  double arithmetic = 0;     // greedy exact match
  double multiple_choice = 0;
  double retrieval = 0;                  // recall@1
  std::map<double, double> sampled_gen;  // knowledge_gen exact match sampled at T
                                         // (generation-only mode: agreement with baseline)
};

struct Variant {
  prune::DropKind kind = prune::DropKind::kMlp;
  int k = 0;
  std::vector<int> layers;
  Scores scores;
  std::vector<double> free_kl, teacher_kl;    // mean KL at T = 1 per decode step
  std::vector<double> free_agree;             // fraction of prompts still identical at each step
  std::vector<double> kl_by_t, kl_pred_by_t;  // teacher-forced mean KL at each stat temperature
  std::string name() const;                   // "drop-mlp k=2 (layers 3,4)"
};

// One verdict held against the measured outcome.
struct Case {
  std::string variant;
  verdict::TaskType task = verdict::TaskType::kGeneration;
  double temperature = 1;
  verdict::Level level = verdict::Level::kSafe;
  std::string rule, reason;
  std::vector<verdict::Check> checks;  // the evidence, to refit thresholds without rerunning
  double baseline_score = 0, candidate_score = 0, tolerance = 0;
  bool within_tolerance() const { return baseline_score - candidate_score <= tolerance + 1e-12; }
  bool agrees() const { return (level == verdict::Level::kSafe) == within_tolerance(); }
};

struct Experiment {
  std::string model_name;
  bool generation_only = false;
  int num_layers = 0;
  int64_t parameters = 0;
  Scores baseline;
  // "attention" / "mlp" -> each sublayer removed alone (probe::RankLayers at T = 1 only), in
  // layer order.
  std::map<std::string, std::vector<probe::LayerDamage>> layers;
  std::vector<Variant> variants;
  std::vector<Case> cases;
  // Multiple choice judged again with the evidence items' labels removed: argmax disagreement
  // and option-subspace KL only, the verdict a user without labelled items gets.
  std::vector<Case> label_free_cases;
  // Tasks whose evidence came from the outcome items (task file shorter than 2 * per_task).
  std::vector<std::string> shared_evidence_tasks;
  double seconds = 0;
  double agreement() const;
  double label_free_agreement() const;
};

absl::StatusOr<Experiment> RunExperiment(const ExperimentOptions& options);

}  // namespace prunegate::reproduce

#endif  // PRUNEGATE_TOOLS_REPRODUCE_EXPERIMENT_H_
