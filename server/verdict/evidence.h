// The evidence a verdict is judged on: per task type, the statistics of the probe runs at one
// temperature, with the counts they were computed from. Plain data; the generation summary is
// computed here from per-prompt trace outcomes so that it can be tested without a model.
// Torch-free.
#ifndef PRUNEGATE_SERVER_VERDICT_EVIDENCE_H_
#define PRUNEGATE_SERVER_VERDICT_EVIDENCE_H_

#include <cstdint>
#include <vector>

namespace prunegate::verdict {

// Free-running decode traces at one temperature T: both models sample at T with the same seed.
struct GenerationEvidence {
  double temperature = 1;
  int64_t prompts = 0;    // traces run (one per prompt)
  int64_t max_steps = 0;  // tokens generated per prompt at most
  int64_t diverged = 0;   // prompts whose continuations differ within max_steps
  double divergence_rate = 0;        // diverged / prompts
  double mean_first_divergence = 0;  // mean of (first divergence step, or max_steps if none)
  double early_divergence = 0;       // 1 - mean_first_divergence / max_steps
  // Steps whose context both models share: every step up to and including a prompt's first
  // divergence (all steps when it never diverges).
  int64_t shared_steps = 0;
  double mean_kl = 0;  // mean KL(p || q) at T over the shared steps
  double kl_pred = 0;  // mean Var_p(δ) / (2 T²) over the shared steps
  int64_t steps = 0;           // every step compared (both models' own contexts)
  double token_agreement = 0;  // fraction of those steps where both models chose the same token
};

// One prompt's trace, reduced: what SummarizeGeneration needs.
struct PromptOutcome {
  int64_t first_divergence = -1;  // step index, -1 when the continuations never differ
  int64_t steps = 0;              // steps compared
  int64_t agreeing_steps = 0;
  int64_t shared_steps = 0;  // steps up to and including the first divergence
  double kl_sum = 0;         // Σ KL over the shared steps
  double kl_pred_sum = 0;    // Σ Var_p(δ) / (2 T²) over the shared steps
};

// Pools the outcomes of one temperature's traces (KL means are over steps, not prompts).
GenerationEvidence SummarizeGeneration(double temperature, int64_t max_steps,
                                       const std::vector<PromptOutcome>& outcomes);

// Choice probe over multiple-choice items at one temperature.
struct ChoiceEvidence {
  double temperature = 1;
  int64_t items = 0;
  int64_t labelled = 0;                   // items with a label; 0 skips the accuracy rule
  double accuracy_a = 0, accuracy_b = 0;  // over labelled items
  int64_t argmax_agreeing = 0;            // items whose two argmax options agree
  double argmax_agreement = 0;            // argmax_agreeing / items (temperature-independent)
  double mean_kl = 0;                     // mean over items of KL(p_C || q_C) at T
};

// Embedding probe over retrieval sets. Temperature-independent: `temperature` only labels the
// verdict it is judged for.
struct RetrievalEvidence {
  double temperature = 1;
  int64_t sets = 0;
  int64_t queries = 0;
  int64_t texts = 0;  // documents and queries whose two embeddings were compared
  int64_t top_k = 0;
  double recall_at_1_a = 0, recall_at_1_b = 0;
  double mean_cosine = 0;        // mean cos(e_a, e_b) over the texts
  double mean_topk_overlap = 0;  // mean |top-k_a ∩ top-k_b| / k over queries
  double mean_kendall_tau = 0;   // mean rank correlation of the document orderings
};

}  // namespace prunegate::verdict

#endif  // PRUNEGATE_SERVER_VERDICT_EVIDENCE_H_
