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
  return ItemsPerTask(suite, 0, per_task);
}

TaskSuite ItemsPerTask(const TaskSuite& suite, int64_t skip, int64_t count) {
  TaskSuite out;
  std::map<std::string, int64_t> seen;
  auto in_slice = [&](const std::string& task) {
    const int64_t i = seen[task]++;
    return i >= skip && i < skip + count;
  };
  for (const auto& g : suite.generation) {
    if (in_slice(g.info.task)) out.generation.push_back(g);
  }
  for (const auto& m : suite.multiple_choice) {
    if (in_slice(m.info.task)) out.multiple_choice.push_back(m);
  }
  constexpr int64_t kQueriesPerSet = 16;
  const int64_t first_set = (skip + kQueriesPerSet - 1) / kQueriesPerSet;
  const int64_t sets = (count + kQueriesPerSet - 1) / kQueriesPerSet;
  for (int64_t i = first_set;
       i < static_cast<int64_t>(suite.retrieval.size()) && i < first_set + sets; ++i) {
    out.retrieval.push_back(suite.retrieval[i]);
  }
  return out;
}

}  // namespace prunegate::tasks
