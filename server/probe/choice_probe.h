// Choice probe: multiple-choice items (prompt + single-token options + optional label). For each
// item both models' next-token logits after the prompt are restricted to the option tokens and
// compared in that subspace; each model's accuracy is scored where a label is given.
#ifndef PRUNEGATE_SERVER_PROBE_CHOICE_PROBE_H_
#define PRUNEGATE_SERVER_PROBE_CHOICE_PROBE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/eval/runner.h"
#include "server/probe/stats.h"
#include "server/tasks/task.h"

namespace prunegate::probe {

struct ChoiceItemResult {
  std::string id;
  std::vector<SubspaceStats> subspace;  // one per temperature
  int label = -1;                       // -1 when the item has none
  bool correct_a = false, correct_b = false;
};

struct ChoiceSummary {
  int64_t items = 0, labelled = 0;
  double accuracy_a = 0, accuracy_b = 0;  // over labelled items
  double argmax_agreement = 0;            // fraction of items whose two argmaxes agree
  std::vector<double> mean_kl;            // per temperature, KL(p_C || q_C) averaged over items
  std::vector<ChoiceItemResult> results;
};

// Both runners must share one tokenizer vocabulary (the prompt is encoded with `a`'s tokenizer).
// INVALID_ARGUMENT for a multi-token option, an empty item list, bad temperatures or a
// vocabulary mismatch.
absl::StatusOr<ChoiceSummary> ProbeChoices(const eval::Runner& a, const eval::Runner& b,
                                           const std::vector<tasks::MultipleChoiceItem>& items,
                                           const std::vector<double>& temperatures);

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_CHOICE_PROBE_H_
