// What the CLI reads from disk: whole files, one-text-per-line files, and task files
// (docs/task-format.md) turned into the request items of the probes and of Assess.
#ifndef PRUNEGATE_CLIENT_INPUT_FILES_H_
#define PRUNEGATE_CLIENT_INPUT_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prunegate/v1/prunegate.pb.h"
#include "server/tasks/task.h"

namespace prunegate::client {

// The whole file. NOT_FOUND naming the file when it cannot be opened.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// One text per line; blank lines are skipped, "\r\n" accepted. INVALID_ARGUMENT when the file
// holds no text.
absl::StatusOr<std::vector<std::string>> ReadTextLines(const std::string& path);

// A task file, or a directory of *.jsonl task files (the server's tasks/ layout).
absl::StatusOr<tasks::TaskSuite> LoadTaskSuite(const std::string& path);

// The suite's items as request messages. Each fails with INVALID_ARGUMENT naming `path` when
// the suite has no item of that kind.
absl::StatusOr<std::vector<std::string>> GenerationPrompts(const tasks::TaskSuite& suite,
                                                           const std::string& path);
absl::StatusOr<std::vector<v1::ChoiceItem>> ChoiceItems(const tasks::TaskSuite& suite,
                                                        const std::string& path);
absl::StatusOr<std::vector<v1::RetrievalSet>> RetrievalSets(const tasks::TaskSuite& suite,
                                                            const std::string& path);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_INPUT_FILES_H_
