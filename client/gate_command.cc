#include "client/gate_command.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "client/input_files.h"
#include "client/output.h"
#include "client/progress.h"
#include "nlohmann/json.hpp"

namespace prunegate::client {
namespace {

const std::vector<std::pair<std::string, v1::TaskType>>& TaskNames() {
  static const auto* names = new std::vector<std::pair<std::string, v1::TaskType>>{
      {"generation", v1::GENERATION},
      {"multiple-choice", v1::MULTIPLE_CHOICE},
      {"retrieval", v1::RETRIEVAL}};
  return *names;
}

std::string TaskName(v1::TaskType task) {
  for (const auto& [name, value] : TaskNames()) {
    if (value == task) return name;
  }
  return v1::TaskType_Name(task);
}

// The task file's items of the request's task type.
absl::Status AddItems(const std::string& path, v1::AssessRequest* request) {
  absl::StatusOr<tasks::TaskSuite> suite = LoadTaskSuite(path);
  if (!suite.ok()) return suite.status();
  switch (request->task()) {
    case v1::GENERATION: {
      absl::StatusOr<std::vector<std::string>> prompts = GenerationPrompts(*suite, path);
      if (!prompts.ok()) return prompts.status();
      request->mutable_prompts()->Add(prompts->begin(), prompts->end());
      return absl::OkStatus();
    }
    case v1::MULTIPLE_CHOICE: {
      absl::StatusOr<std::vector<v1::ChoiceItem>> items = ChoiceItems(*suite, path);
      if (!items.ok()) return items.status();
      request->mutable_choices()->Add(items->begin(), items->end());
      return absl::OkStatus();
    }
    default: {
      absl::StatusOr<std::vector<v1::RetrievalSet>> sets = RetrievalSets(*suite, path);
      if (!sets.ok()) return sets.status();
      request->mutable_sets()->Add(sets->begin(), sets->end());
      return absl::OkStatus();
    }
  }
}

std::string Header(const v1::Assessment& assessment, const v1::AssessRequest& request) {
  return absl::StrCat("gate: candidate ", request.candidate(), " vs baseline ", request.baseline(),
                      ", task ", TaskName(assessment.task()), "\n");
}

}  // namespace

FlagSet GateFlags(GateArgs* args) {
  FlagSet flags(
      "gate",
      "--baseline B --candidate C --task generation|multiple-choice|retrieval "
      "--temperature 0.2,0.7,1.0 [--tasks FILE] [--policy FILE] [--steps N] [--json]",
      "Assesses whether the candidate is safe to deploy instead of the baseline for a task "
      "type at each temperature, and exits with the worst verdict: 0 SAFE, 1 UNSAFE, 2 RISKY, "
      "3 error. Progress goes to stderr.");
  AddPairFlags(&flags, &args->pair);
  flags.AddString("task", &args->task, "TYPE",
                  "generation, multiple-choice or retrieval (required)");
  AddTemperatureFlag(&flags, &args->temperatures);
  flags.AddString("tasks", &args->tasks_path, "FILE",
                  "task file or directory (docs/task-format.md); its items of the task's type "
                  "are used (default: the server's set for the baseline)");
  flags.AddString("policy", &args->policy_file, "FILE",
                  "JSON overrides of the default verdict policy");
  flags.AddInt("steps", &args->steps, "N", "generation length (default: the policy's)");
  flags.AddInt("seed", &args->seed, "S", "sampling seed (default: the policy's)");
  flags.AddBool("json", &args->json, "print one JSON object (the last line of stdout)");
  return flags;
}

absl::StatusOr<v1::AssessRequest> GateRequestFrom(const FlagSet& flags, const GateArgs& args) {
  v1::AssessRequest request;
  if (absl::Status s = SetPair(flags, args.pair, &request); !s.ok()) return s;
  if (absl::Status s = flags.Require({"task"}); !s.ok()) return s;
  absl::StatusOr<v1::TaskType> task =
      ParseChoice<v1::TaskType>("task", args.task, TaskNames(), v1::TASK_TYPE_UNSPECIFIED);
  if (!task.ok()) return task.status();
  if (args.steps < 0) return absl::InvalidArgumentError("--steps must be >= 0");
  request.set_task(*task);
  request.mutable_temperatures()->Add(args.temperatures.begin(), args.temperatures.end());
  request.set_max_steps(static_cast<int32_t>(args.steps));
  request.set_seed(static_cast<uint64_t>(args.seed));
  if (!args.policy_file.empty()) {
    absl::StatusOr<std::string> policy = ReadFileToString(args.policy_file);
    if (!policy.ok()) return policy.status();
    request.set_policy_json(*std::move(policy));
  }
  if (!args.tasks_path.empty()) {
    if (absl::Status s = AddItems(args.tasks_path, &request); !s.ok()) return s;
  }
  return request;
}

v1::Verdict WorstVerdict(const v1::Assessment& assessment) {
  // SAFE < RISKY < UNSAFE in the enum's numbering.
  v1::Verdict worst = assessment.overall();
  for (const v1::TemperatureVerdict& v : assessment.verdicts()) {
    worst = std::max(worst, v.verdict());
  }
  return worst;
}

std::string AssessmentText(const v1::Assessment& assessment, const v1::AssessRequest& request) {
  std::string out = Header(assessment, request);
  for (const v1::TemperatureVerdict& v : assessment.verdicts()) {
    absl::StrAppend(&out, "\nT=", Temp(v.temperature()), "  ", v1::Verdict_Name(v.verdict()));
    if (!v.rule().empty()) absl::StrAppend(&out, "  (rule ", v.rule(), ")");
    absl::StrAppend(&out, "\n  ", v.reason(), "\n");
    Table table({{"  check", 0, true},
                 {"value"},
                 {"risky"},
                 {"unsafe"},
                 {"level", 0, true},
                 {"what it measures", 0, true}});
    std::vector<std::vector<std::string>> rows;
    for (const v1::Check& check : v.checks()) {
      rows.push_back({"  " + check.rule(), Num(check.value()), Num(check.risky()),
                      Num(check.unsafe()), v1::Verdict_Name(check.level()), check.description()});
    }
    if (!rows.empty()) out += table.Render(rows);
  }
  absl::StrAppend(&out, "\noverall: ", v1::Verdict_Name(WorstVerdict(assessment)), "\n");
  return out;
}

std::string AssessmentJsonLine(const v1::Assessment& assessment, const v1::AssessRequest& request) {
  const v1::Verdict overall = WorstVerdict(assessment);
  nlohmann::ordered_json json = {{"baseline", request.baseline()},
                                 {"candidate", request.candidate()},
                                 {"task", TaskName(assessment.task())},
                                 {"overall", v1::Verdict_Name(overall)},
                                 {"exit_code", ExitCodeForVerdict(overall)}};
  nlohmann::ordered_json temperatures = nlohmann::ordered_json::array();
  for (const v1::TemperatureVerdict& v : assessment.verdicts()) {
    nlohmann::ordered_json checks = nlohmann::ordered_json::array();
    for (const v1::Check& check : v.checks()) {
      checks.push_back({{"rule", check.rule()},
                        {"description", check.description()},
                        {"value", check.value()},
                        {"risky", check.risky()},
                        {"unsafe", check.unsafe()},
                        {"level", v1::Verdict_Name(check.level())}});
    }
    temperatures.push_back({{"temperature", v.temperature()},
                            {"verdict", v1::Verdict_Name(v.verdict())},
                            {"rule", v.rule()},
                            {"reason", v.reason()},
                            {"checks", std::move(checks)}});
  }
  json["temperatures"] = std::move(temperatures);
  // The server's report is JSON; keep it verbatim as a string if it is not.
  nlohmann::ordered_json evidence =
      nlohmann::ordered_json::parse(assessment.json(), nullptr, false);
  json["evidence"] = evidence.is_discarded() ? nlohmann::ordered_json(assessment.json()) : evidence;
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

int RunGate(const std::vector<std::string>& args, CommandEnv env) {
  GateArgs gate;
  v1::AssessRequest request;
  if (auto stop = ParseRequest(GateFlags, GateRequestFrom, args, &env, &gate, &request)) {
    return *stop;
  }
  ProgressReporter progress(env.err, env.err_is_tty);
  std::optional<v1::Assessment> assessment;
  const int code = CallStream<v1::AssessRequest, v1::AssessEvent>(
      env, &v1::Prunegate::Stub::Assess, request, [&](const v1::AssessEvent& event) {
        if (event.has_progress()) progress.Update(event.progress());
        if (event.has_assessment()) assessment = event.assessment();
      });
  progress.Finish();
  if (code != 0) return code;
  if (!assessment.has_value()) {
    *env.err << "prunegate: the server ended Assess without an assessment" << std::endl;
    return kExitError;
  }
  if (gate.json) {
    *env.out << AssessmentJsonLine(*assessment, request) << std::endl;
  } else {
    *env.out << AssessmentText(*assessment, request) << std::flush;
  }
  return ExitCodeForVerdict(WorstVerdict(*assessment));
}

}  // namespace prunegate::client
