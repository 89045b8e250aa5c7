#include "tests/client/cli_testing.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/testing/paths.h"

extern char** environ;

namespace prunegate::testing {

std::string CliResult::LastLine() const {
  size_t end = out.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  const size_t start = out.rfind('\n', end);
  return out.substr(start == std::string::npos ? 0 : start + 1,
                    end - (start == std::string::npos ? 0 : start + 1) + 1);
}

std::string CliResult::Dump() const {
  return absl::StrCat("exit code ", exit_code, "\n--- stdout ---\n", out, "--- stderr ---\n", err);
}

CliResult RunPrunegate(const std::vector<std::string>& args) {
  static const std::string dir = MakeTempDir("prunegate-cli");
  const std::string out_path = dir + "/stdout";
  const std::string err_path = dir + "/stderr";
  std::vector<std::string> argv_strings = {PRUNEGATE_CLI_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PRUNEGATE_SERVER=", 17) == 0) continue;
    if (std::strncmp(*e, "PRUNEGATE_TOKEN=", 16) == 0) continue;
    envp.push_back(*e);
  }
  envp.push_back(nullptr);

  CliResult result;
  const absl::StatusOr<pid_t> spawned =
      ::prunegate::testing::SpawnWithLogs(argv_strings, out_path, err_path, envp.data());
  if (!spawned.ok()) {
    result.err = std::string(spawned.status().message());
    return result;
  }
  const pid_t pid = *spawned;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = ExitCodeOfWaitStatus(status);
  result.out = ReadWholeFile(out_path);
  result.err = ReadWholeFile(err_path);
  return result;
}

bool HaveTinykb() {
  return std::filesystem::exists(SourceDir() + "/" + kTinykb + "/model.safetensors");
}

absl::StatusOr<std::unique_ptr<ServerProcess>> StartTinykbServer(
    const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {"--model-root", SourceDir(), "--load",
                                   absl::StrCat("tinykb=", kTinykb)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(args);
  if (!server.ok()) return server.status();
  std::vector<std::string> list = {"--server", (*server)->address()};
  for (size_t i = 0; i + 1 < extra_args.size(); ++i) {
    if (extra_args[i] == "--token") list.insert(list.end(), {"--token", extra_args[i + 1]});
  }
  list.insert(list.end(), {"models", "list", "--json"});
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  std::string last;
  while (absl::Now() < deadline) {
    const CliResult result = RunPrunegate(list);
    last = result.Dump();
    const nlohmann::json json = nlohmann::json::parse(result.LastLine(), nullptr, false);
    if (result.exit_code == 0 && json.is_object() && json.contains("models")) {
      for (const nlohmann::json& model : json["models"]) {
        if (model.value("name", "") != "tinykb") continue;
        if (model.value("state", "") == "READY") return server;
        if (model.value("state", "") == "FAILED") {
          return absl::InternalError(absl::StrCat("tinykb FAILED to load: ", model.dump()));
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("tinykb was not READY after 90 s; last `models list`: ", last,
                   "\nserver stderr:\n", (*server)->StderrTail()));
}

ServerProcess* TinykbCliTest::server_ = nullptr;
std::string* TinykbCliTest::start_error_ = nullptr;

void TinykbCliTest::SetUpTestSuite() {
  if (!HaveTinykb()) return;
  absl::StatusOr<std::unique_ptr<ServerProcess>> server = StartTinykbServer();
  if (server.ok()) {
    server_ = server->release();
  } else {
    start_error_ = new std::string(server.status().ToString());
  }
}

void TinykbCliTest::TearDownTestSuite() {
  delete server_;
  server_ = nullptr;
}

void TinykbCliTest::SetUp() {
  if (!HaveTinykb()) GTEST_SKIP() << kTinykb << " is absent from this checkout";
  ASSERT_NE(server_, nullptr) << (start_error_ != nullptr ? *start_error_ : "");
}

CliResult TinykbCliTest::Cli(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--server", server_->address()};
  all.insert(all.end(), args.begin(), args.end());
  return RunPrunegate(all);
}

}  // namespace prunegate::testing
