// Verdicts: evidence held against a policy's thresholds, one rule at a time, giving SAFE, RISKY or
// UNSAFE per temperature with the rule that fired and a one-line reason. Pure functions of plain
// data; the runs that produce the evidence are in assess.h. Torch-free.
//
// Rules, in tie-break order within each task type (every one: higher is worse):
//   generation.divergence_rate, generation.early_divergence, generation.mean_kl,
//   generation.kl_pred;
//   multiple_choice.accuracy_drop (skipped when no item has a label),
//   multiple_choice.argmax_disagreement, multiple_choice.mean_kl;
//   retrieval.recall_drop, retrieval.cosine_loss, retrieval.topk_loss.
#ifndef PRUNEGATE_SERVER_VERDICT_VERDICT_H_
#define PRUNEGATE_SERVER_VERDICT_VERDICT_H_

#include <string>
#include <vector>

#include "server/verdict/evidence.h"
#include "server/verdict/policy.h"

namespace prunegate::verdict {

// value > unsafe → kUnsafe, value > risky → kRisky, else kSafe.
Level LevelOf(double value, const Thresholds& thresholds);

// One rule applied to one evidence number.
struct Check {
  std::string rule;                // the policy path, e.g. "generation.divergence_rate"
  std::string metric_description;  // what the value counts, e.g. "31 of 50 prompts diverged ..."
  double value = 0;
  double risky = 0;
  double unsafe = 0;
  Level level = Level::kSafe;
};

struct TemperatureVerdict {
  double temperature = 1;
  Level level = Level::kSafe;  // the worst check's level
  std::string rule;            // the rule that fired: the first check at `level`; "" when SAFE
  // One line, e.g. "UNSAFE: generation.divergence_rate 0.62 > 0.30 at T=0.2 (31 of 50 prompts
  // diverged within 24 steps)" or "SAFE: every check within its risky threshold at T=0.2".
  std::string reason;
  std::vector<Check> checks;  // in rule order
};

TemperatureVerdict Judge(const Policy& policy, const GenerationEvidence& evidence);
TemperatureVerdict Judge(const Policy& policy, const ChoiceEvidence& evidence);
TemperatureVerdict Judge(const Policy& policy, const RetrievalEvidence& evidence);

// The verdicts of one task type over a temperature list, with the evidence behind them.
struct Assessment {
  TaskType task = TaskType::kGeneration;
  std::vector<TemperatureVerdict> verdicts;  // one per temperature, in request order
  Level overall = Level::kSafe;              // the worst verdict
  // Only the task's own list is filled, one entry per temperature (same order as `verdicts`).
  std::vector<GenerationEvidence> generation;
  std::vector<ChoiceEvidence> multiple_choice;
  std::vector<RetrievalEvidence> retrieval;
};

// Judges every evidence entry of the assessment's task and sets `verdicts` and `overall`.
void JudgeAll(const Policy& policy, Assessment* assessment);

// {"task":..,"overall":..,"verdicts":[{"temperature":..,"level":..,"rule":..,"reason":..,
//   "checks":[{"rule","metric_description","value","risky","unsafe","level"}..],
//   "evidence":{..}}..]}
std::string AssessmentJson(const Assessment& assessment);
// A few lines per temperature: the verdict, its reason, and a table of the checks.
std::string AssessmentText(const Assessment& assessment);

}  // namespace prunegate::verdict

#endif  // PRUNEGATE_SERVER_VERDICT_VERDICT_H_
