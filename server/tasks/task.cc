#include "server/tasks/task.h"

#include <map>

namespace prunegate::tasks {

const char* ScoringName(Scoring scoring) {
  switch (scoring) {
    case Scoring::kExactMatch:
      return "exact_match";
    case Scoring::kBaselineAgreement:
      return "baseline_agreement";
  }
  return "unknown";
}

std::optional<Scoring> ParseScoring(const std::string& name) {
  if (name == "exact_match") return Scoring::kExactMatch;
  if (name == "baseline_agreement") return Scoring::kBaselineAgreement;
  return std::nullopt;
}

TaskSuite FirstItemsPerTask(const TaskSuite& suite, int64_t per_task) {
  TaskSuite out;
  std::map<std::string, int64_t> taken;
  for (const auto& g : suite.generation) {
    if (taken[g.info.task]++ < per_task) out.generation.push_back(g);
  }
  for (const auto& m : suite.multiple_choice) {
    if (taken[m.info.task]++ < per_task) out.multiple_choice.push_back(m);
  }
  const int64_t sets = (per_task + 15) / 16;
  for (size_t i = 0; i < suite.retrieval.size() && static_cast<int64_t>(i) < sets; ++i) {
    out.retrieval.push_back(suite.retrieval[i]);
  }
  return out;
}

}  // namespace prunegate::tasks
