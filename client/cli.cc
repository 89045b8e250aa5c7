#include "client/cli.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/gate_command.h"
#include "client/models_command.h"
#include "client/probe_commands.h"
#include "client/rank_layers_command.h"
#include "client/task_probe_commands.h"

namespace prunegate::client {
namespace {

struct CommandSpec {
  const char* name;  // one or two words
  const char* summary;
  CommandFn run;
};

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>{
      {"models list", "list the resident models", RunModelsList},
      {"models load", "load a checkpoint directory", RunModelsLoad},
      {"models derive", "derive a candidate by dropping layers", RunModelsDerive},
      {"models unload", "unload a model", RunModelsUnload},
      {"probe-layers", "per-sublayer drift through the logit lens", RunProbeLayers},
      {"trace", "decode both models in lockstep", RunTrace},
      {"choices", "multiple-choice items: option-subspace statistics", RunChoices},
      {"embeddings", "embedding cosine and ranking stability", RunEmbeddings},
      {"kl", "teacher-forced KL summary over a text (llama.cpp block)", RunKl},
      {"rank-layers", "rank layers by the damage removing each one does", RunRankLayers},
      {"gate", "SAFE / RISKY / UNSAFE per temperature; exit code = verdict", RunGate},
  };
  return *commands;
}

// The command that `words` start with (two-word names first), and how many words it took.
const CommandSpec* FindCommand(const std::vector<std::string>& words, size_t* used) {
  for (const CommandSpec& spec : Commands()) {
    const std::vector<std::string> name = absl::StrSplit(spec.name, ' ');
    if (words.size() < name.size()) continue;
    if (std::equal(name.begin(), name.end(), words.begin())) {
      *used = name.size();
      return &spec;
    }
  }
  return nullptr;
}

}  // namespace

std::string MainUsage() {
  std::string out =
      "usage: prunegate [--server ADDR] [--tls-ca F --tls-cert F --tls-key F] [--token T] "
      "[--timeout S] <command> [flags]\n\n"
      "Compares a baseline LLM with a pruned candidate on a prunegate server.\n\ncommands:\n";
  for (const CommandSpec& spec : Commands()) {
    absl::StrAppend(&out, "  ", spec.name, std::string(16 - std::string(spec.name).size(), ' '),
                    spec.summary, "\n");
  }
  ConnectionOptions unused;
  FlagSet global("", "", "");
  AddConnectionFlags(&global, &unused);
  const std::string flags = global.Usage();
  absl::StrAppend(&out, flags.substr(flags.find("\nglobal flags:")),
                  "\nexit codes: 0 success (gate: SAFE), 1 UNSAFE, 2 RISKY, 3 error.\n"
                  "'prunegate <command> --help' shows a command's flags.\n");
  return out;
}

int RunCli(const std::vector<std::string>& args, CommandEnv env) {
  env.connection = ConnectionOptions();
  FlagSet global("", "", "");
  AddConnectionFlags(&global, &env.connection);
  absl::Status status = global.Parse(args, /*stop_at_positional=*/true);
  if (!status.ok()) {
    *env.err << "prunegate: " << status.message() << "\n\n" << MainUsage() << std::flush;
    return kExitError;
  }
  const std::vector<std::string>& words = global.positional();
  if (global.help_requested() || (!words.empty() && words[0] == "help")) {
    *env.out << MainUsage() << std::flush;
    return 0;
  }
  size_t used = 0;
  const CommandSpec* command = FindCommand(words, &used);
  if (command == nullptr) {
    const bool models = !words.empty() && words[0] == "models";
    if (models && words.size() > 1 && (words[1] == "--help" || words[1] == "-h")) {
      *env.out << MainUsage() << std::flush;
      return 0;
    }
    std::string what = "no command given";
    if (models) {
      what = words.size() > 1 ? absl::StrCat("unknown command 'models ", words[1], "'")
                              : "models needs a subcommand: list, load, derive or unload";
    } else if (!words.empty()) {
      what = absl::StrCat("unknown command '", words[0], "'");
    }
    *env.err << "prunegate: " << what << "\n\n" << MainUsage() << std::flush;
    return kExitError;
  }
  return command->run(std::vector<std::string>(words.begin() + used, words.end()), env);
}

}  // namespace prunegate::client
