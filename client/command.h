// What every command shares: where it writes, how its flags are parsed (usage on --help, usage
// and exit 3 on a flag error), the connection to the server, the flags most probes take
// (--baseline/--candidate, --temperature, --prompt/--ids), and reading a server stream.
#ifndef PRUNEGATE_CLIENT_COMMAND_H_
#define PRUNEGATE_CLIENT_COMMAND_H_

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/flags.h"
#include "client/output.h"
#include "grpcpp/support/sync_stream.h"
#include "prunegate/v1/prunegate.grpc.pb.h"

namespace prunegate::client {

struct CommandEnv {
  ConnectionOptions connection;  // the global flags; commands accept them too
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool err_is_tty = false;  // draw progress bars on stderr
  std::function<const char*(const char*)> getenv;
};

// A command's entry point: its arguments (after the command words) and the environment.
using CommandFn = int (*)(const std::vector<std::string>& args, CommandEnv env);

// Adds the connection flags to `flags` and parses `args`. Returns the exit code when the command
// must stop: 0 after printing the usage for --help, kExitError after a flag error or positional
// arguments (message and usage on stderr). Otherwise resolves env->connection and returns nullopt.
std::optional<int> ParseCommandLine(FlagSet* flags, const std::vector<std::string>& args,
                                    CommandEnv* env);
// Prints "prunegate: <message>" and the usage to stderr; returns kExitError.
int UsageError(const FlagSet& flags, const absl::Status& status, const CommandEnv& env);

// For a command whose flags build one request: parses `args` into `*parsed` with the flags
// `make_flags` binds, then builds `*request` from them. Returns the exit code when the command
// must stop (--help, a flag error, a request that cannot be built), else nullopt.
template <typename Args, typename Request>
std::optional<int> ParseRequest(FlagSet (*make_flags)(Args*),
                                absl::StatusOr<Request> (*build)(const FlagSet&, const Args&),
                                const std::vector<std::string>& args, CommandEnv* env, Args* parsed,
                                Request* request) {
  FlagSet flags = make_flags(parsed);
  if (std::optional<int> stop = ParseCommandLine(&flags, args, env)) return stop;
  absl::StatusOr<Request> built = build(flags, *parsed);
  if (!built.ok()) return UsageError(flags, built.status(), *env);
  *request = *std::move(built);
  return std::nullopt;
}

// A stub on a channel made from env.connection.
absl::StatusOr<std::unique_ptr<v1::Prunegate::Stub>> Connect(const CommandEnv& env);

// --baseline B --candidate C, both required.
struct PairArgs {
  std::string baseline, candidate;
};
void AddPairFlags(FlagSet* flags, PairArgs* pair);
// INVALID_ARGUMENT unless both were given; otherwise sets them on `request`.
template <typename Request>
absl::Status SetPair(const FlagSet& flags, const PairArgs& pair, Request* request) {
  if (absl::Status s = flags.Require({"baseline", "candidate"}); !s.ok()) return s;
  request->set_baseline(pair.baseline);
  request->set_candidate(pair.candidate);
  return absl::OkStatus();
}
// --temperature 0.7,1.0 (statistics temperatures; the server's default is 1.0).
void AddTemperatureFlag(FlagSet* flags, std::vector<double>* temperatures);
// --prompt TEXT | --ids 1,2,3.
struct PromptArgs {
  std::string text;
  std::vector<int64_t> ids;
};
void AddPromptFlags(FlagSet* flags, PromptArgs* prompt);
// The Input the prompt flags describe; INVALID_ARGUMENT unless exactly one was given.
absl::StatusOr<v1::Input> PromptInput(const FlagSet& flags, const PromptArgs& prompt);
// The temperatures a request will be answered at: `requested`, or the server's default [1.0].
std::vector<double> EffectiveTemperatures(const std::vector<double>& requested);

// The enum value `value` names among `choices` ("norm" → NORM_HEAD); `fallback` when `value` is
// empty (the flag was not given). INVALID_ARGUMENT listing the choices otherwise.
template <typename Enum>
absl::StatusOr<Enum> ParseChoice(const std::string& flag, const std::string& value,
                                 const std::vector<std::pair<std::string, Enum>>& choices,
                                 Enum fallback) {
  if (value.empty()) return fallback;
  std::vector<std::string> names;
  for (const auto& [name, choice] : choices) {
    if (name == value) return choice;
    names.push_back(name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be ", absl::StrJoin(names, " or "), ", not '", value, "'"));
}

// A CallStream callback: each event as one JSON line (`json`) or through `print` (text), then a
// flush, so that long streams show as they arrive.
template <typename Event>
std::function<void(const Event&)> EventPrinter(bool json, const CommandEnv& env,
                                               std::function<void(const Event&)> print) {
  return [json, &env, print = std::move(print)](const Event& event) {
    if (json) {
      *env.out << JsonLine(event) << "\n";
    } else {
      print(event);
    }
    *env.out << std::flush;
  };
}

// Calls a unary RPC on a fresh context. Returns 0, or kExitError after reporting the failure
// (connection setup or RPC status) on stderr.
template <typename Request, typename Response>
int CallUnary(const CommandEnv& env,
              grpc::Status (v1::Prunegate::Stub::*method)(grpc::ClientContext*, const Request&,
                                                          Response*),
              const Request& request, Response* response) {
  absl::StatusOr<std::unique_ptr<v1::Prunegate::Stub>> stub = Connect(env);
  if (!stub.ok()) return ReportError(stub.status(), *env.err);
  std::unique_ptr<grpc::ClientContext> context = MakeContext(env.connection);
  const grpc::Status status = ((**stub).*method)(context.get(), request, response);
  return status.ok() ? 0 : ReportRpcError(status, *env.err);
}

// Calls a server-streaming RPC and hands each message to `on_event` as it arrives (the callee
// prints and flushes), then finishes the call. Returns 0, or kExitError as CallUnary.
template <typename Request, typename Event>
int CallStream(const CommandEnv& env,
               std::unique_ptr<grpc::ClientReader<Event>> (v1::Prunegate::Stub::*method)(
                   grpc::ClientContext*, const Request&),
               const Request& request, const std::function<void(const Event&)>& on_event) {
  absl::StatusOr<std::unique_ptr<v1::Prunegate::Stub>> stub = Connect(env);
  if (!stub.ok()) return ReportError(stub.status(), *env.err);
  std::unique_ptr<grpc::ClientContext> context = MakeContext(env.connection);
  std::unique_ptr<grpc::ClientReader<Event>> reader = ((**stub).*method)(context.get(), request);
  Event event;
  while (reader->Read(&event)) on_event(event);
  const grpc::Status status = reader->Finish();
  return status.ok() ? 0 : ReportRpcError(status, *env.err);
}

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_COMMAND_H_
