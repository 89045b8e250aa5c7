#include "server/verdict/policy.h"

#include "absl/strings/str_cat.h"

namespace prunegate::verdict {

const char* TaskTypeName(TaskType task) {
  switch (task) {
    case TaskType::kGeneration:
      return "generation";
    case TaskType::kMultipleChoice:
      return "multiple-choice";
    case TaskType::kRetrieval:
      return "retrieval";
  }
  return "?";
}

absl::StatusOr<TaskType> ParseTaskType(const std::string& name) {
  if (name == "generation") return TaskType::kGeneration;
  if (name == "multiple-choice" || name == "multiple_choice" || name == "mc") {
    return TaskType::kMultipleChoice;
  }
  if (name == "retrieval") return TaskType::kRetrieval;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown task type \"", name,
                   "\"; valid: generation, multiple-choice (or multiple_choice, mc), retrieval"));
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kSafe:
      return "SAFE";
    case Level::kRisky:
      return "RISKY";
    case Level::kUnsafe:
      return "UNSAFE";
  }
  return "?";
}

Policy DefaultPolicy() { return Policy{}; }

}  // namespace prunegate::verdict
