#include "tests/service/metrics_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "httplib.h"
#include "tests/testing/paths.h"

extern char** environ;

namespace prunegate::testing {
namespace {

// posix_spawn of argv with stdin from `stdin_path` and stdout+stderr appended to `log_path`.
absl::StatusOr<pid_t> SpawnWithFiles(const std::vector<std::string>& argv,
                                     const std::string& stdin_path, const std::string& log_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command line");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("posix_spawn ", argv[0], ": ", std::strerror(rc)));
  }
  return pid;
}

}  // namespace

std::optional<prometheus::ClientMetric> FindSeries(const prometheus::Registry& registry,
                                                   const std::string& name,
                                                   const prometheus::Labels& labels) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      prometheus::Labels got;
      for (const auto& label : metric.label) got[label.name] = label.value;
      if (got == labels) return metric;
    }
  }
  return std::nullopt;
}

std::optional<double> SeriesValue(const prometheus::Registry& registry, const std::string& name,
                                  const prometheus::Labels& labels) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    std::optional<prometheus::ClientMetric> metric = FindSeries(registry, name, labels);
    if (!metric) return std::nullopt;
    switch (family.type) {
      case prometheus::MetricType::Counter:
        return metric->counter.value;
      case prometheus::MetricType::Gauge:
        return metric->gauge.value;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

size_t SeriesCount(const prometheus::Registry& registry, const std::string& name) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name == name) return family.metric.size();
  }
  return 0;
}

std::optional<std::string> FindExecutable(const std::string& name) {
  std::string path = "/usr/bin";
  if (const char* env = std::getenv("PATH"); env && *env) path = absl::StrCat(env, ":/usr/bin");
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::string& stdin_text) {
  const std::string dir = MakeTempDir("prunegate-command");
  const std::string in_path = dir + "/stdin";
  const std::string out_path = dir + "/output";
  std::ofstream(in_path, std::ios::binary) << stdin_text;
  absl::StatusOr<pid_t> pid = SpawnWithFiles(argv, in_path, out_path);
  if (!pid.ok()) return pid.status();
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid ", argv[0], ": ", std::strerror(errno)));
    }
  }
  return CommandResult{ExitCodeOfWaitStatus(status), ReadWholeFile(out_path)};
}

absl::StatusOr<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                                 const std::string& log_path) {
  absl::StatusOr<pid_t> pid = SpawnWithFiles(argv, "/dev/null", log_path);
  if (!pid.ok()) return pid.status();
  return ChildProcess(*pid, log_path);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_code_(other.exit_code_), log_path_(std::move(other.log_path_)) {
  other.pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Terminate();
}

bool ChildProcess::Reap(bool block) {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t rc;
  do {
    rc = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc == pid_) {
    exit_code_ = ExitCodeOfWaitStatus(status);
    pid_ = -1;
    return true;
  }
  return rc < 0;  // not our child any more
}

bool ChildProcess::Running() { return !Reap(/*block=*/false); }

int ChildProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return exit_code_;
  kill(pid_, SIGTERM);
  absl::Time deadline = absl::Now() + timeout;
  while (!Reap(/*block=*/false)) {
    if (absl::Now() > deadline) {
      kill(pid_, SIGKILL);
      Reap(/*block=*/true);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_code_;
}

std::string ChildProcess::LogTail(size_t max_bytes) const {
  std::string log = ReadWholeFile(log_path_);
  return log.size() <= max_bytes ? log : log.substr(log.size() - max_bytes);
}

absl::StatusOr<HttpResult> HttpGet(const std::string& host, int port, const std::string& path) {
  httplib::Client client(host, port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  httplib::Result result = client.Get(path.c_str());
  if (!result) {
    return absl::UnavailableError(absl::StrCat("GET http://", host, ":", port, path, ": ",
                                               httplib::to_string(result.error())));
  }
  return HttpResult{result->status, result->get_header_value("Content-Type"), result->body};
}

}  // namespace prunegate::testing
