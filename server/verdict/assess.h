// Assess: runs the probes a task type needs on a (baseline, candidate) pair and judges the
// evidence per temperature against a policy.
//   generation:      one free-running decode trace per prompt and temperature T; both models
//                    sample at T (seed: policy seed + prompt index) and stop at the EOS token.
//   multiple choice: the choice probe per item (option-subspace statistics at every T at once).
//   retrieval:       the embedding probe per retrieval set (mean pooling); the same evidence is
//                    judged for every T.
// Only torch-free headers here; the implementation uses libtorch.
#ifndef PRUNEGATE_SERVER_VERDICT_ASSESS_H_
#define PRUNEGATE_SERVER_VERDICT_ASSESS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/tasks/task.h"
#include "server/verdict/policy.h"
#include "server/verdict/verdict.h"

namespace prunegate::eval {
struct Runner;
}  // namespace prunegate::eval

namespace prunegate::verdict {

struct AssessOptions {
  TaskType task = TaskType::kGeneration;
  std::vector<double> temperatures = {1.0};
  int64_t max_steps = 0;  // generation length; 0 = policy.generation.max_steps
  uint64_t seed = 0;      // 0 = policy.generation.seed
  Policy policy;
};

struct AssessProgress {
  std::string stage;  // "generation", "multiple_choice" or "retrieval"
  int64_t done = 0;   // prompts (x temperatures), items or sets finished
  int64_t total = 0;
  // The temperature the stage is running at when it runs once per temperature (generation);
  // 0 when it covers every temperature at once (multiple choice, retrieval).
  double temperature = 0;
};

// INVALID_ARGUMENT when the task's items are empty, the temperatures are invalid, max_steps is
// negative, the policy is invalid, or the two runners' vocabularies differ; CANCELLED as soon as
// `cancelled()` returns true (polled before every prompt, item or set and every decode step).
// `progress` is called after every prompt, item or set.
absl::StatusOr<Assessment> Assess(const eval::Runner& baseline, const eval::Runner& candidate,
                                  const tasks::TaskSuite& items, const AssessOptions& options,
                                  const std::function<void(const AssessProgress&)>& progress = {},
                                  const std::function<bool()>& cancelled = {});

// A built-in set of 16 short English prompts for generation when the caller supplies none.
std::vector<std::string> BuiltinGenerationPrompts();

}  // namespace prunegate::verdict

#endif  // PRUNEGATE_SERVER_VERDICT_ASSESS_H_
