// The held-out task suites written to DIR/tasks/*.jsonl (docs/task-format.md): the same
// knowledge-base facts asked in generation and multiple-choice form with question templates the
// training text never uses, arithmetic on held-out operand pairs, story prompts with held-out
// openings, and retrieval of entity descriptions by paraphrased queries.
#ifndef PRUNEGATE_TOOLS_CORPUS_HELD_OUT_TASKS_H_
#define PRUNEGATE_TOOLS_CORPUS_HELD_OUT_TASKS_H_

#include <string>
#include <vector>

#include "server/tasks/task.h"
#include "tools/corpus/arithmetic.h"
#include "tools/corpus/knowledge_text.h"
#include "tools/corpus/rng.h"

namespace prunegate::corpus {

struct HeldOutCounts {
  int knowledge = 300;   // facts asked; each gives one generation and one MC item
  int arithmetic = 200;  // half additions, half subtractions
  int stories = 50;
  int retrieval_set_size = 16;  // documents per retrieval item (one query per document)
};

struct HeldOutTasks {
  tasks::TaskSuite knowledge_gen;  // ids kg-NNNN, exact match
  tasks::TaskSuite knowledge_mc;   // ids kmc-NNNN, options " A".." D"; kmc-i asks what kg-i asks
  tasks::TaskSuite arithmetic;     // ids ar-NNNN, exact match
  tasks::TaskSuite stories;        // ids st-NNN, baseline agreement (reference for reading)
  tasks::TaskSuite retrieval;      // ids rt-NN; document ids are entity ids
};

// Query templates for retrieval ({N}: the entity's name); queries are "Q: " + a filled
// template, in the training text's question format but with phrasings it never uses.
const std::vector<std::string>& RetrievalQueryTemplates();

// Each task draws from its own stream of `seed`, so changing one count leaves the other files
// unchanged.
HeldOutTasks MakeHeldOutTasks(const KnowledgeText& text, const Arithmetic& arithmetic,
                              const HeldOutCounts& counts, uint64_t seed);

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_HELD_OUT_TASKS_H_
