#include "server/tasks/task.h"

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

}  // namespace prunegate::tasks
