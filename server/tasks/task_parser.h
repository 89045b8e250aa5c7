// Reads task files: JSONL, one item per line, each a JSON object with a "type" of "generation",
// "multiple_choice" or "retrieval" (docs/task-format.md). Blank lines are skipped. Torch-free.
#ifndef PRUNEGATE_SERVER_TASKS_TASK_PARSER_H_
#define PRUNEGATE_SERVER_TASKS_TASK_PARSER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/tasks/task.h"

namespace prunegate::tasks {

// Parses JSONL text; `source` names the file in messages and in each item's `origin`.
// INVALID_ARGUMENT "SOURCE:LINE: <what is wrong>" for the first bad line: malformed JSON, a line
// that is not an object, an unknown type, a missing, mistyped or unknown field, an empty prompt,
// a label out of range, fewer than 2 options, duplicate item ids, a retrieval relevant id that
// names no document of the item, ... Empty text gives an empty suite.
absl::StatusOr<TaskSuite> ParseTaskJsonl(std::string_view text, const std::string& source);

// Reads and parses one file. NOT_FOUND when it does not exist; INVALID_ARGUMENT as above.
absl::StatusOr<TaskSuite> ParseTaskFile(const std::string& path);

// Every `*.jsonl` regular file directly in `dir`, in file-name order, merged into one suite
// (items keep their file order). Item ids must be unique across the files. NOT_FOUND when `dir`
// does not exist or holds no *.jsonl file; INVALID_ARGUMENT when it is not a directory or a file
// is malformed.
absl::StatusOr<TaskSuite> LoadTaskDir(const std::string& dir);

}  // namespace prunegate::tasks

#endif  // PRUNEGATE_SERVER_TASKS_TASK_PARSER_H_
