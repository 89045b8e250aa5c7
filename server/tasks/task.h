// Task items: what an evaluator scores a checkpoint on. Three kinds, matching the three task types
// the pruning science distinguishes (docs/task-format.md describes the JSONL files they come from):
//   - generation: a prompt and the expected continuation, scored by exact match or by agreement
//     with the baseline model's greedy continuation;
//   - multiple choice: a prompt and candidate option strings, each a single token of the model's
//     tokenizer; the answer is the argmax of the next-token logits over the option tokens;
//   - retrieval: a set of documents and queries with the ids of their relevant documents; texts
//     are embedded by pooled hidden states and ranked by cosine similarity.
// Torch-free.
#ifndef PRUNEGATE_SERVER_TASKS_TASK_H_
#define PRUNEGATE_SERVER_TASKS_TASK_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace prunegate::tasks {

enum class Scoring {
  kExactMatch,         // the continuation must equal `reference` (see docs/task-format.md)
  kBaselineAgreement,  // the candidate's greedy continuation is compared with the baseline's
};
// "exact_match" / "baseline_agreement".
const char* ScoringName(Scoring scoring);
// Inverse of ScoringName; nullopt for any other string.
std::optional<Scoring> ParseScoring(const std::string& name);

// Fields every item carries. `meta` holds free-form string annotations (the corpus generator
// records entity, attribute and template there) for per-group breakdowns; evaluators must not
// need it. `origin` is "FILE:LINE" for items read from a file (empty for items built in code).
struct ItemInfo {
  std::string id;    // unique within a task suite
  std::string task;  // free-form task name for breakdowns ("knowledge_gen", "arithmetic", ...)
  std::map<std::string, std::string> meta;
  std::string origin;
};

struct GenerationItem {
  ItemInfo info;
  std::string prompt;                    // non-empty
  std::optional<std::string> reference;  // required for kExactMatch
  Scoring scoring = Scoring::kExactMatch;
  std::optional<int> max_new_tokens;  // evaluator default when absent
};

struct MultipleChoiceItem {
  ItemInfo info;
  std::string prompt;                // non-empty
  std::vector<std::string> options;  // >= 2 distinct non-empty strings, e.g. " A", " B"
  std::optional<int> label;          // index into options of the correct answer, when known
};

struct RetrievalDocument {
  std::string id;
  std::string text;
};

struct RetrievalQuery {
  std::string id;
  std::string text;
  std::vector<std::string> relevant;  // ids of documents in the same item; non-empty
};

// One retrieval set: queries are ranked against this item's documents only.
struct RetrievalItem {
  ItemInfo info;
  std::vector<RetrievalDocument> documents;  // non-empty, ids unique within the item
  std::vector<RetrievalQuery> queries;       // non-empty, ids unique within the item
};

struct TaskSuite {
  std::vector<GenerationItem> generation;
  std::vector<MultipleChoiceItem> multiple_choice;
  std::vector<RetrievalItem> retrieval;

  size_t size() const { return generation.size() + multiple_choice.size() + retrieval.size(); }
  bool empty() const { return size() == 0; }
};

// A fixed subset for quick evaluations: the first `per_task` generation and multiple-choice items
// of every task name (file order), and the first ceil(per_task / 16) retrieval sets.
TaskSuite FirstItemsPerTask(const TaskSuite& suite, int64_t per_task);

// The next slice after `skip` items: generation and multiple-choice items [skip, skip + count) of
// every task name, and retrieval sets [ceil(skip / 16), ceil(skip / 16) + ceil(count / 16)).
// ItemsPerTask(s, 0, n) == FirstItemsPerTask(s, n); ItemsPerTask(s, n, n) shares no item with it.
TaskSuite ItemsPerTask(const TaskSuite& suite, int64_t skip, int64_t count);

}  // namespace prunegate::tasks

#endif  // PRUNEGATE_SERVER_TASKS_TASK_H_
