// Writes task suites as JSONL task files (docs/task-format.md) that ParseTaskJsonl reads back
// unchanged. Torch-free.
#ifndef PRUNEGATE_SERVER_TASKS_TASK_WRITER_H_
#define PRUNEGATE_SERVER_TASKS_TASK_WRITER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/tasks/task.h"

namespace prunegate::tasks {

// One JSON object per item, on one line, without the trailing newline. Fields in a fixed order
// (type, id, task, prompt, ...); `meta` only when non-empty; `origin` is never written.
// INVALID_ARGUMENT when a string is not valid UTF-8.
absl::StatusOr<std::string> ToJsonLine(const GenerationItem& item);
absl::StatusOr<std::string> ToJsonLine(const MultipleChoiceItem& item);
absl::StatusOr<std::string> ToJsonLine(const RetrievalItem& item);

// The whole suite, generation items first, then multiple choice, then retrieval; each line ends
// with '\n'. Validates the suite first (ValidateTaskSuite), so the output always parses back.
absl::StatusOr<std::string> SerializeTaskJsonl(const TaskSuite& suite);

// SerializeTaskJsonl into `path` (created or truncated). INTERNAL on I/O failure.
absl::Status WriteTaskFile(const std::string& path, const TaskSuite& suite);

}  // namespace prunegate::tasks

#endif  // PRUNEGATE_SERVER_TASKS_TASK_WRITER_H_
