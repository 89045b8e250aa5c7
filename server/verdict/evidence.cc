#include "server/verdict/evidence.h"

namespace prunegate::verdict {

GenerationEvidence SummarizeGeneration(double temperature, int64_t max_steps,
                                       const std::vector<PromptOutcome>& outcomes) {
  GenerationEvidence e;
  e.temperature = temperature;
  e.max_steps = max_steps;
  e.prompts = static_cast<int64_t>(outcomes.size());
  double first_sum = 0, kl_sum = 0, kl_pred_sum = 0;
  int64_t agreeing = 0;
  for (const PromptOutcome& o : outcomes) {
    const bool diverged = o.first_divergence >= 0;
    e.diverged += diverged;
    first_sum += diverged ? o.first_divergence : max_steps;
    e.shared_steps += o.shared_steps;
    kl_sum += o.kl_sum;
    kl_pred_sum += o.kl_pred_sum;
    e.steps += o.steps;
    agreeing += o.agreeing_steps;
  }
  if (e.prompts > 0) {
    e.divergence_rate = static_cast<double>(e.diverged) / e.prompts;
    e.mean_first_divergence = first_sum / e.prompts;
    if (max_steps > 0) e.early_divergence = 1.0 - e.mean_first_divergence / max_steps;
  }
  if (e.shared_steps > 0) {
    e.mean_kl = kl_sum / e.shared_steps;
    e.kl_pred = kl_pred_sum / e.shared_steps;
  }
  if (e.steps > 0) e.token_agreement = static_cast<double>(agreeing) / e.steps;
  return e;
}

}  // namespace prunegate::verdict
