// Semantic checks on task items, shared by the JSONL parser (which prefixes "FILE:LINE: ") and
// the writer (which refuses to write a file that would not parse back). Torch-free.
#ifndef PRUNEGATE_SERVER_TASKS_TASK_VALIDATE_H_
#define PRUNEGATE_SERVER_TASKS_TASK_VALIDATE_H_

#include "absl/status/status.h"
#include "server/tasks/task.h"

namespace prunegate::tasks {

// Each returns OK or INVALID_ARGUMENT whose message says what is wrong without a location
// ("empty prompt", "label 4 is out of range for 4 options", "fewer than 2 options", ...).
// Empty ids, empty texts, duplicate options, exact_match without a reference, non-positive
// max_new_tokens, duplicate document or query ids within a retrieval item, and relevant ids that
// name no document of the item are all errors.
absl::Status ValidateGenerationItem(const GenerationItem& item);
absl::Status ValidateMultipleChoiceItem(const MultipleChoiceItem& item);
absl::Status ValidateRetrievalItem(const RetrievalItem& item);

// Validates every item and checks that item ids are unique across the suite. The message names
// the offending item ("item \"kg-7\": empty prompt", "duplicate id \"kg-7\"").
absl::Status ValidateTaskSuite(const TaskSuite& suite);

}  // namespace prunegate::tasks

#endif  // PRUNEGATE_SERVER_TASKS_TASK_VALIDATE_H_
