// prunegate-eval: scores a checkpoint on a task suite (JSONL files, docs/task-format.md).
//
//   prunegate-eval --model DIR [--tasks DIR|FILE] [--baseline DIR] [--device D] [--dtype D]
//       [--threads N] [--batch N] [--max-new-tokens N] [--temperature T --seed S] [--pooling mean|last] [--per-task N]
//       [--json]
//
// --tasks defaults to DIR/tasks. With --json the last line is
// {"generation":{"exact_match":..,"n":..},"multiple_choice":{"accuracy":..,"n":..},
//  "retrieval":{"recall_at_1":..,"n":..}} with per-task breakdowns beside each headline.
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "server/eval/evaluator.h"
#include "server/model/device.h"
#include "server/model/model.h"
#include "server/model/tokenizer.h"
#include "server/tasks/task_parser.h"
#include "tools/cli_flags.h"

ABSL_FLAG(std::string, model, "", "checkpoint directory to score");
ABSL_FLAG(std::string, tasks, "", "task directory (*.jsonl) or file; default MODEL/tasks");
ABSL_FLAG(std::string, baseline, "", "baseline checkpoint for baseline_agreement items");
ABSL_FLAG(std::string, device, "cpu", "cpu | cuda | cuda:N");
ABSL_FLAG(std::string, dtype, "float32", "float32 | bfloat16 | float16");
ABSL_FLAG(int, threads, 0, "compute threads (libtorch and OpenBLAS); 0 = library default");
ABSL_FLAG(int64_t, batch, 16, "sequences per forward pass");
ABSL_FLAG(int64_t, max_new_tokens, 48, "generation limit for items without their own");
ABSL_FLAG(std::string, pooling, "mean", "retrieval embedding pooling: mean | last");
ABSL_FLAG(double, temperature, 0.0,
          "exact-match decoding temperature: 0 = greedy; > 0 samples (item i with seed + i)");
ABSL_FLAG(uint64_t, seed, 1, "sampling seed when --temperature > 0");
ABSL_FLAG(bool, json, false, "print the report as one JSON line");
ABSL_FLAG(int64_t, per_task, 0,
          "score only the first N items of each task (and N/16 retrieval sets); 0 = all");

namespace {
int Fail(const std::string& message) {
  std::cerr << "prunegate-eval: " << message << "\n";
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  prunegate::ReexecWithPassiveOpenMpWait(argv);
  absl::SetProgramUsageMessage("Score a checkpoint on a task suite: prunegate-eval --model DIR");
  std::vector<char*> args = prunegate::cli::DashesToUnderscores(argc, argv);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  const std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) return Fail("--model DIR is required");
  prunegate::SetComputeThreads(absl::GetFlag(FLAGS_threads));
  const prunegate::LoadOptions load{absl::GetFlag(FLAGS_device), absl::GetFlag(FLAGS_dtype)};

  std::string tasks_path = absl::GetFlag(FLAGS_tasks);
  if (tasks_path.empty()) tasks_path = (std::filesystem::path(dir) / "tasks").string();
  auto suite = std::filesystem::is_directory(tasks_path)
                   ? prunegate::tasks::LoadTaskDir(tasks_path)
                   : prunegate::tasks::ParseTaskFile(tasks_path);
  if (!suite.ok()) return Fail(suite.status().ToString());
  if (absl::GetFlag(FLAGS_per_task) > 0) {
    *suite = prunegate::tasks::FirstItemsPerTask(*suite, absl::GetFlag(FLAGS_per_task));
  }

  auto model = prunegate::Model::Load(dir, load);
  if (!model.ok()) return Fail(model.status().ToString());
  auto tokenizer = prunegate::LoadTokenizer(dir);
  if (!tokenizer.ok()) return Fail(tokenizer.status().ToString());

  prunegate::eval::EvalOptions options;
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.sampling.temperature = absl::GetFlag(FLAGS_temperature);
  options.sampling.seed = absl::GetFlag(FLAGS_seed);
  const std::string pooling = absl::GetFlag(FLAGS_pooling);
  if (pooling != "mean" && pooling != "last") return Fail("--pooling must be mean or last");
  options.pooling =
      pooling == "mean" ? prunegate::eval::Pooling::kMean : prunegate::eval::Pooling::kLastToken;
  if (!absl::GetFlag(FLAGS_baseline).empty()) {
    auto baseline = prunegate::Model::Load(absl::GetFlag(FLAGS_baseline), load);
    if (!baseline.ok()) return Fail(baseline.status().ToString());
    options.baseline = *baseline;
  }
  prunegate::eval::Runner runner{*model,
                                 std::shared_ptr<const prunegate::Tokenizer>(std::move(*tokenizer)),
                                 absl::GetFlag(FLAGS_batch)};
  auto report = prunegate::eval::Evaluate(runner, *suite, options);
  if (!report.ok()) return Fail(report.status().ToString());
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << prunegate::eval::ReportJson(*report) << std::endl;
  } else {
    std::cout << prunegate::eval::ReportText(*report);
  }
  return 0;
}
