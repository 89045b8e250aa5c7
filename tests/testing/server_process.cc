#include "tests/testing/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tests/testing/paths.h"

extern char** environ;

namespace prunegate::testing {
namespace {

constexpr absl::Duration kDefaultReadyTimeout = absl::Seconds(90);
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

}  // namespace

absl::StatusOr<pid_t> SpawnWithLogs(const std::vector<std::string>& argv,
                                    const std::string& stdout_path, const std::string& stderr_path,
                                    char* const* envp) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  std::vector<std::string> strings = argv;
  std::vector<char*> pointers;
  for (std::string& arg : strings) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, pointers[0], &actions, nullptr, pointers.data(),
                             envp != nullptr ? envp : environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  return pid;
}

std::string ServerProcess::BinaryPath() { return PRUNEGATE_SERVER_BINARY; }

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& extra_args) {
  return Start(extra_args, kDefaultReadyTimeout);
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& extra_args, absl::Duration ready_timeout) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = Spawn(extra_args);
  if (!server.ok()) return server.status();
  if (absl::Status ready = (*server)->WaitUntilReady(ready_timeout); !ready.ok()) return ready;
  return server;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::StartListening(
    const std::vector<std::string>& extra_args, absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> spawned = Spawn(extra_args);
  if (!spawned.ok()) return spawned.status();
  std::unique_ptr<ServerProcess> server = *std::move(spawned);
  // main.cc logs this line once the gRPC port is bound, before the start-up loads.
  const std::string kGrpcOn = "prunegate-server: gRPC on ";
  const std::string kMetricsOn = ", metrics on ";
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (server->WaitExit(absl::ZeroDuration())) {
      return server->ExitedError("its gRPC port was open");
    }
    const std::string log = ReadWholeFile(server->stderr_path_);
    const size_t at = log.find(kGrpcOn);
    const size_t line_end = at == std::string::npos ? at : log.find('\n', at);
    if (line_end != std::string::npos) {
      // "prunegate-server: gRPC on HOST:PORT, metrics on M (NOT_SERVING until ...)"
      const absl::string_view line = absl::string_view(log).substr(at, line_end - at);
      const size_t metrics_at = line.find(kMetricsOn);
      const size_t colon = line.rfind(':', metrics_at);
      absl::string_view metrics = metrics_at == absl::string_view::npos
                                      ? absl::string_view()
                                      : line.substr(metrics_at + kMetricsOn.size());
      metrics = metrics.substr(0, metrics.find(' '));
      int grpc_port = 0;
      int metrics_port = -1;
      if (metrics_at == absl::string_view::npos || colon == absl::string_view::npos ||
          !absl::SimpleAtoi(line.substr(colon + 1, metrics_at - colon - 1), &grpc_port) ||
          !absl::SimpleAtoi(metrics, &metrics_port)) {
        return absl::InternalError(absl::StrCat("cannot read the ports from \"", line, "\""));
      }
      server->grpc_port_ = grpc_port;
      server->metrics_port_ = metrics_port;
      return server;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "prunegate-server did not open its gRPC port within ", absl::FormatDuration(timeout),
          " (", server->args_, "); stderr:\n", server->StderrTail()));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Spawn(
    const std::vector<std::string>& extra_args) {
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->dir_ = MakeTempDir("prunegate-server");
  server->stderr_path_ = server->dir_ + "/stderr.log";
  server->ready_path_ = server->dir_ + "/ready.json";
  server->args_ = absl::StrJoin(extra_args, " ");
  const std::string stdout_path = server->dir_ + "/stdout.log";

  std::vector<std::string> args = {BinaryPath()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  for (const char* arg : {"--grpc-port", "0", "--metrics-port", "0", "--ready-file"}) {
    args.emplace_back(arg);
  }
  args.push_back(server->ready_path_);
  // A later flag wins, so a caller's --metrics-port -1 must come after ours.
  for (size_t i = 0; i + 1 < extra_args.size(); ++i) {
    if (extra_args[i] == "--metrics-port") {
      args.push_back("--metrics-port");
      args.push_back(extra_args[i + 1]);
    }
  }
  absl::StatusOr<pid_t> pid = SpawnWithLogs(args, stdout_path, server->stderr_path_);
  if (!pid.ok()) return pid.status();
  server->pid_ = *pid;
  return server;
}

absl::Status ServerProcess::WaitUntilReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (WaitExit(absl::ZeroDuration())) return ExitedError("it was ready");
    const std::string ready = ReadWholeFile(ready_path_);
    if (!ready.empty()) {
      const nlohmann::json json = nlohmann::json::parse(ready, nullptr, /*allow_exceptions=*/false);
      if (!json.is_object() || !json.contains("grpc_port") ||
          !json["grpc_port"].is_number_integer()) {
        return absl::InternalError(absl::StrCat("malformed ready file ", ready_path_, ": ", ready));
      }
      grpc_port_ = json["grpc_port"].get<int>();
      if (json.contains("metrics_port") && json["metrics_port"].is_number_integer()) {
        metrics_port_ = json["metrics_port"].get<int>();
      }
      return absl::OkStatus();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("prunegate-server was not ready after ",
                                                      absl::FormatDuration(timeout), " (", args_,
                                                      "); stderr:\n", StderrTail()));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::Status ServerProcess::ExitedError(const std::string& what) const {
  return absl::InternalError(absl::StrCat("prunegate-server exited with code ", exit_code_,
                                          " before ", what, " (", args_, "); stderr:\n",
                                          StderrTail()));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) Terminate();
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }

bool ServerProcess::WaitExit(absl::Duration timeout) {
  if (reaped_) return true;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t got = waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      reaped_ = true;
      exit_code_ = ExitCodeOfWaitStatus(status);
      return true;
    }
    if (got < 0 && errno != EINTR) {
      reaped_ = true;  // not our child any more; nothing to wait for
      return true;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(std::min(kPollInterval, deadline - absl::Now()));
  }
}

bool ServerProcess::Running() { return pid_ > 0 && !WaitExit(absl::ZeroDuration()); }

int ServerProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  if (reaped_) return exit_code_;
  kill(pid_, SIGTERM);
  if (!WaitExit(timeout)) {
    kill(pid_, SIGKILL);
    WaitExit(absl::InfiniteDuration());
  }
  return exit_code_;
}

std::string ServerProcess::StderrTail(size_t max_bytes) const {
  const std::string text = ReadWholeFile(stderr_path_);
  if (text.size() <= max_bytes) return text;
  return "..." + text.substr(text.size() - max_bytes);
}

}  // namespace prunegate::testing
