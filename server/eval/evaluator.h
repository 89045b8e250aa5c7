// Scores a checkpoint on a task suite (server/tasks): the ground truth that prunegate's verdicts
// are calibrated and checked against.
//
// Scoring rules (docs/task-format.md):
//  - generation, exact_match: greedy continuation of the prompt (BOS per the tokenizer), at most
//    max_new_tokens, stopped at end-of-sequence or at the first newline; correct when the
//    continuation equals the reference after trimming surrounding whitespace on both.
//  - generation, baseline_agreement: needs a baseline model; both continue greedily for
//    max_new_tokens (no newline stop); reports the fraction of the baseline's tokens the
//    candidate reproduces position by position, and whether the texts are identical.
//  - multiple choice: every option must be one token of the tokenizer; the prediction is the
//    option whose token has the highest next-token logit after the prompt.
//  - retrieval: each text is embedded (final-norm hidden state, mean over its tokens or last
//    token); each query's top document by cosine similarity is a hit when it is relevant
//    (recall@1); MRR over the first relevant document's rank.
#ifndef PRUNEGATE_SERVER_EVAL_EVALUATOR_H_
#define PRUNEGATE_SERVER_EVAL_EVALUATOR_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/eval/runner.h"
#include "server/tasks/task.h"

namespace prunegate::eval {

struct EvalOptions {
  int64_t max_new_tokens = 48;  // for items without their own limit
  Pooling pooling = Pooling::kMean;
  // Baseline for baseline_agreement items; those items are skipped (and counted) without one.
  std::shared_ptr<const Model> baseline;
  int samples_per_task = 3;  // generation samples kept for reports
  // How exact-match items are decoded: greedy by default; with a temperature, item i of a
  // length group samples with seed + i (the same draws under any model).
  SamplingOptions sampling;
};

struct Score {
  int64_t correct = 0, n = 0;
  double rate() const { return n > 0 ? static_cast<double>(correct) / n : 0.0; }
};

struct Agreement {
  int64_t n = 0, identical = 0;
  double token_agreement_sum = 0;
  double token_agreement() const { return n > 0 ? token_agreement_sum / n : 0.0; }
};

struct Sample {
  std::string task, id, prompt, reference, output;
  bool correct = false;
};

struct EvalReport {
  // Exact-match generation per task name, and the headline: the "knowledge_gen" task when the
  // suite has it, otherwise all exact-match items.
  std::map<std::string, Score> generation_by_task;
  Score generation;
  double temperature = 0;  // exact-match decoding temperature (0 = greedy)
  std::map<std::string, Agreement> agreement_by_task;
  int64_t agreement_skipped = 0;  // baseline_agreement items without a baseline
  std::map<std::string, Score> choice_by_task;
  Score choice;
  std::map<std::string, Score> retrieval_by_task;  // hits@1 over queries
  Score retrieval;
  double retrieval_mrr = 0;
  std::vector<Sample> samples;
};

// INVALID_ARGUMENT naming the item (id and FILE:LINE) when a multiple-choice option is not a
// single token or a prompt encodes to nothing.
absl::StatusOr<EvalReport> Evaluate(const Runner& runner, const tasks::TaskSuite& suite,
                                    const EvalOptions& options);

// {"generation":{"exact_match":..,"n":..,"tasks":{..}},"multiple_choice":{"accuracy":..,"n":..,
//  "tasks":{..}},"retrieval":{"recall_at_1":..,"mrr":..,"n":..},...} on one line.
std::string ReportJson(const EvalReport& report);
// A readable multi-line summary with samples.
std::string ReportText(const EvalReport& report);

// The token id of each option of a multiple-choice item. INVALID_ARGUMENT naming the item when
// an option is not exactly one token for this tokenizer.
absl::StatusOr<std::vector<int64_t>> OptionTokenIds(const Tokenizer& tokenizer,
                                                    const tasks::MultipleChoiceItem& item);

// Trimmed equality used for exact match.
bool ExactMatch(const std::string& output, const std::string& reference);

}  // namespace prunegate::eval

#endif  // PRUNEGATE_SERVER_EVAL_EVALUATOR_H_
