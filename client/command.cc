#include "client/command.h"

#include <utility>

namespace prunegate::client {

std::optional<int> ParseCommandLine(FlagSet* flags, const std::vector<std::string>& args,
                                    CommandEnv* env) {
  AddConnectionFlags(flags, &env->connection);
  absl::Status status = flags->Parse(args);
  if (status.ok() && flags->help_requested()) {
    *env->out << flags->Usage() << std::flush;
    return 0;
  }
  if (status.ok()) status = flags->NoPositional();
  if (status.ok()) status = ResolveConnectionOptions(env->getenv, &env->connection);
  if (!status.ok()) return UsageError(*flags, status, *env);
  return std::nullopt;
}

int UsageError(const FlagSet& flags, const absl::Status& status, const CommandEnv& env) {
  *env.err << "prunegate: " << status.message() << "\n\n" << flags.Usage() << std::flush;
  return kExitError;
}

absl::StatusOr<std::unique_ptr<v1::Prunegate::Stub>> Connect(const CommandEnv& env) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(env.connection);
  if (!channel.ok()) return channel.status();
  return v1::Prunegate::NewStub(*channel);
}

void AddPairFlags(FlagSet* flags, PairArgs* pair) {
  flags->AddString("baseline", &pair->baseline, "B", "the baseline model's name (required)");
  flags->AddString("candidate", &pair->candidate, "C", "the candidate model's name (required)");
}

void AddTemperatureFlag(FlagSet* flags, std::vector<double>* temperatures) {
  flags->AddDoubleList("temperature", temperatures, "T1,T2,..",
                       "temperatures of the probability-space statistics (default 1.0)");
}

void AddPromptFlags(FlagSet* flags, PromptArgs* prompt) {
  flags->AddString("prompt", &prompt->text, "TEXT", "the prompt, tokenized by the server");
  flags->AddIntList("ids", &prompt->ids, "1,2,3", "the prompt as token ids (instead of --prompt)");
}

absl::StatusOr<v1::Input> PromptInput(const FlagSet& flags, const PromptArgs& prompt) {
  absl::Status status = flags.RequireExactlyOne({"prompt", "ids"});
  if (!status.ok()) return status;
  v1::Input input;
  if (flags.IsSet("prompt")) {
    input.set_text(prompt.text);
  } else {
    input.mutable_ids()->mutable_ids()->Add(prompt.ids.begin(), prompt.ids.end());
  }
  return input;
}

std::vector<double> EffectiveTemperatures(const std::vector<double>& requested) {
  return requested.empty() ? std::vector<double>{1.0} : requested;
}

}  // namespace prunegate::client
