// Verdict policy: the thresholds every rule holds its evidence against, per task type, and the
// settings of the runs that produce the evidence (docs/policy.md documents every key). A policy
// is plain data read from JSON; partial JSON overrides the defaults. Torch-free.
#ifndef PRUNEGATE_SERVER_VERDICT_POLICY_H_
#define PRUNEGATE_SERVER_VERDICT_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace prunegate::verdict {

enum class TaskType { kGeneration, kMultipleChoice, kRetrieval };
// "generation" | "multiple-choice" | "retrieval".
const char* TaskTypeName(TaskType task);
// Inverse of TaskTypeName; also accepts "multiple_choice" and "mc". INVALID_ARGUMENT listing the
// valid names otherwise.
absl::StatusOr<TaskType> ParseTaskType(const std::string& name);

// Worse is higher: kUnsafe > kRisky > kSafe.
enum class Level { kSafe, kRisky, kUnsafe };
// "SAFE" | "RISKY" | "UNSAFE".
const char* LevelName(Level level);

// One rule's thresholds: value > unsafe → UNSAFE, value > risky → RISKY, else SAFE. Every rule
// is oriented so that a higher value is worse; 0 <= risky <= unsafe.
struct Thresholds {
  double risky = 0;
  double unsafe = 0;
};

// Defaults calibrated on models/tinykb (docs/reproduction.md, `bash scripts/reproduce.sh`).

// Generation: the free-running decode trace, both models sampling at the verdict's temperature T
// with the same seed.
struct GenerationPolicy {
  Thresholds divergence_rate{0.10, 0.30};   // fraction of prompts whose continuations differ
  Thresholds early_divergence{0.10, 0.30};  // 1 - mean(first divergence step or steps) / steps
  Thresholds mean_kl{0.05, 0.20};           // mean KL(p||q) at T up to the first divergence
  Thresholds kl_pred{0.05, 0.20};           // mean Var_p(δ) / (2 T²) over the same steps
  double tolerance = 0.05;                  // acceptable task-score drop (calibration target)
  int64_t max_steps = 24;                   // tokens generated per prompt
  int64_t max_prompts = 64;                 // the first this many prompts are used; 0 = all
  uint64_t seed = 1234;                     // prompt i samples with seed + i
  // End a continuation at its first token containing a newline, as prunegate-eval scores
  // line-oriented task answers; false = only the end-of-sequence token ends it.
  bool stop_at_newline = true;
};

// Multiple choice: next-token logits restricted to the option tokens.
struct MultipleChoicePolicy {
  Thresholds accuracy_drop{0.05, 0.10};        // accuracy_a - accuracy_b on labelled items
  Thresholds argmax_disagreement{0.15, 0.30};  // fraction of items whose argmax option changed
  Thresholds mean_kl{0.10, 0.30};              // mean option-subspace KL(p_C||q_C) at T
  double tolerance = 0.05;
};

// Retrieval: pooled hidden-state embeddings; temperature-independent.
struct RetrievalPolicy {
  Thresholds recall_drop{0.05, 0.10};  // recall@1_a - recall@1_b
  Thresholds cosine_loss{0.25, 0.50};  // 1 - mean cosine of the two models' embeddings
  Thresholds topk_loss{0.50, 0.80};    // 1 - mean top-k overlap of the document rankings
  double tolerance = 0.05;
  int64_t top_k = 3;  // k of the top-k overlap
};

struct Policy {
  GenerationPolicy generation;
  MultipleChoicePolicy multiple_choice;
  RetrievalPolicy retrieval;
};

// The documented defaults (the member initialisers above).
Policy DefaultPolicy();

// `json` is an object whose members override DefaultPolicy(); "" and "{}" give the defaults.
// INVALID_ARGUMENT naming the JSON path ("generation.mean_kl.unsafe") for an unknown key, a
// value of the wrong type, a negative value, risky > unsafe, or an out-of-range setting.
absl::StatusOr<Policy> ParsePolicyJson(const std::string& json);

// Every key, pretty-printed; ParsePolicyJson(PolicyToJson(p)) == p.
std::string PolicyToJson(const Policy& policy);

// The same checks ParsePolicyJson makes, for a policy built in code.
absl::Status ValidatePolicy(const Policy& policy);

}  // namespace prunegate::verdict

#endif  // PRUNEGATE_SERVER_VERDICT_POLICY_H_
