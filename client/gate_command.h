// `prunegate gate`: the deployment-pipeline step. Calls Assess, shows its progress on stderr,
// prints the verdict per temperature with the checks behind it (or one JSON object as the last
// line of stdout), and exits with the overall verdict: 0 SAFE, 1 UNSAFE, 2 RISKY, 3 error.
#ifndef PRUNEGATE_CLIENT_GATE_COMMAND_H_
#define PRUNEGATE_CLIENT_GATE_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/command.h"
#include "client/flags.h"
#include "prunegate/v1/prunegate.pb.h"

namespace prunegate::client {

int RunGate(const std::vector<std::string>& args, CommandEnv env);

struct GateArgs {
  PairArgs pair;
  std::string task;  // generation | multiple-choice | retrieval
  std::vector<double> temperatures;
  std::string tasks_path;   // task file or directory; empty = the server's default set
  std::string policy_file;  // JSON overrides of the default policy
  int64_t steps = 0;
  int64_t seed = 0;
  bool json = false;
};
FlagSet GateFlags(GateArgs* args);
// Reads the task and policy files. INVALID_ARGUMENT for a missing flag, an unknown task, a task
// file without items of the task's type; NOT_FOUND for a file that cannot be read.
absl::StatusOr<v1::AssessRequest> GateRequestFrom(const FlagSet& flags, const GateArgs& args);

// The worst of the assessment's overall verdict and its per-temperature verdicts
// (VERDICT_UNSPECIFIED when it has neither).
v1::Verdict WorstVerdict(const v1::Assessment& assessment);
// Per temperature: the verdict and the rule that fired, the reason line, and a table of the
// checks (value against its risky and unsafe thresholds); then the overall verdict.
std::string AssessmentText(const v1::Assessment& assessment, const v1::AssessRequest& request);
// {"baseline","candidate","task","overall","exit_code","temperatures":[{"temperature",
//  "verdict","rule","reason","checks":[{"rule","description","value","risky","unsafe",
//  "level"}]}],"evidence":<the server's report>} on one line.
std::string AssessmentJsonLine(const v1::Assessment& assessment, const v1::AssessRequest& request);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_GATE_COMMAND_H_
