// prunegate-reproduce: the paper's experiment in miniature on a trained model, and the
// calibration check of the verdicts against measured task outcomes (issue 4). Writes
// docs/reproduction.md (and the numbers as JSON).
//
//   prunegate-reproduce [--model models/tinykb] [--out docs/reproduction.md]
//       [--json-out docs/reproduction.json] [--per-task 100] [--max-k 0]
//       [--temperatures 0.2,0.7,1.0] [--policy FILE] [--threads 2]
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/model/device.h"
#include "tools/cli_flags.h"
#include "tools/reproduce/report.h"

ABSL_FLAG(std::string, model, "models/tinykb", "trained checkpoint directory (with tasks/)");
ABSL_FLAG(std::string, tasks, "", "task directory; default MODEL/tasks");
ABSL_FLAG(std::string, out, "docs/reproduction.md", "Markdown report to write");
ABSL_FLAG(std::string, json_out, "docs/reproduction.json", "JSON numbers to write ('' = none)");
ABSL_FLAG(int64_t, per_task, 100, "items per task");
ABSL_FLAG(bool, disjoint_evidence, true,
          "verdicts read the next per_task items, never the scored ones (false: the same items)");
ABSL_FLAG(int, max_k, 0, "largest k (0 = half the layers)");
ABSL_FLAG(std::string, temperatures, "0.2,0.7,1.0", "verdict and outcome temperatures");
ABSL_FLAG(std::string, policy, "", "policy JSON file (docs/policy.md); default policy if empty");
ABSL_FLAG(int64_t, trace_prompts, 24, "prompts for the probes and the importance score");
ABSL_FLAG(int64_t, trace_steps, 24, "decode steps per trace");
ABSL_FLAG(uint64_t, seed, 1, "sampling seed");
ABSL_FLAG(int, threads, 0, "compute threads (libtorch and OpenBLAS); 0 = library default");

namespace {
int Fail(const std::string& message) {
  std::cerr << "prunegate-reproduce: " << message << "\n";
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  prunegate::ReexecWithPassiveOpenMpWait(argv);
  absl::SetProgramUsageMessage("The paper's experiment in miniature: prunegate-reproduce");
  std::vector<std::string> original(argv, argv + argc);
  std::vector<char*> args = prunegate::cli::DashesToUnderscores(argc, argv);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  prunegate::SetComputeThreads(absl::GetFlag(FLAGS_threads));

  prunegate::reproduce::ExperimentOptions o;
  o.model_dir = absl::GetFlag(FLAGS_model);
  o.tasks_dir = absl::GetFlag(FLAGS_tasks);
  o.per_task = absl::GetFlag(FLAGS_per_task);
  o.disjoint_evidence = absl::GetFlag(FLAGS_disjoint_evidence);
  o.max_k = absl::GetFlag(FLAGS_max_k);
  o.trace_prompts = absl::GetFlag(FLAGS_trace_prompts);
  o.trace_steps = absl::GetFlag(FLAGS_trace_steps);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.temperatures.clear();
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_temperatures), ',')) {
    double t = 0;
    if (!absl::SimpleAtod(part, &t) || !(t > 0)) {
      return Fail("--temperatures takes positive numbers separated by commas");
    }
    o.temperatures.push_back(t);
  }
  if (!absl::GetFlag(FLAGS_policy).empty()) {
    std::ifstream in(absl::GetFlag(FLAGS_policy));
    if (!in) return Fail("cannot read " + absl::GetFlag(FLAGS_policy));
    std::stringstream text;
    text << in.rdbuf();
    auto policy = prunegate::verdict::ParsePolicyJson(text.str());
    if (!policy.ok()) return Fail(policy.status().ToString());
    o.policy = *policy;
  }
  o.log = [](const std::string& line) { std::cerr << "prunegate-reproduce: " << line << "\n"; };

  auto e = prunegate::reproduce::RunExperiment(o);
  if (!e.ok()) return Fail(e.status().ToString());
  std::string command = "prunegate-reproduce";
  for (size_t i = 1; i < original.size(); ++i) command += " " + original[i];
  std::ofstream(absl::GetFlag(FLAGS_out)) << prunegate::reproduce::ReportMarkdown(*e, o, command);
  if (!absl::GetFlag(FLAGS_json_out).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_json_out)) << prunegate::reproduce::ReportJson(*e, o) << "\n";
  }
  std::cout << "agreement " << e->agreement() << " over " << e->cases.size() << " cases";
  if (!e->label_free_cases.empty()) {
    std::cout << "; multiple choice without labels " << e->label_free_agreement() << " over "
              << e->label_free_cases.size();
  }
  std::cout << "; wrote " << absl::GetFlag(FLAGS_out) << "\n";
  return 0;
}
