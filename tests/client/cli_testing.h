// Runs the real prunegate binary built with this tree as a child process and captures its exit
// code, stdout and stderr, and starts the real server with the shipped model, for the CLI's
// integration tests. Torch-free.
#ifndef PRUNEGATE_TESTS_CLIENT_CLI_TESTING_H_
#define PRUNEGATE_TESTS_CLIENT_CLI_TESTING_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "tests/testing/server_process.h"

namespace prunegate::testing {

struct CliResult {
  int exit_code = -1;  // 128 + signal when a signal ended it
  std::string out;
  std::string err;
  // The last non-empty line of `out`.
  std::string LastLine() const;
  // out and err, for failure messages.
  std::string Dump() const;
};

// Runs `prunegate <args...>` with PRUNEGATE_SERVER and PRUNEGATE_TOKEN unset, waiting for it to
// finish.
CliResult RunPrunegate(const std::vector<std::string>& args);

// The shipped model's directory, models/tinykb, relative to the repository root.
inline constexpr char kTinykb[] = "models/tinykb";
// Whether the shipped model is present in this checkout.
bool HaveTinykb();

// Starts prunegate-server with `--model-root <repo> --load tinykb=models/tinykb` plus
// `extra_args`, and waits (up to 90 s) until `prunegate models list` shows tinykb READY.
absl::StatusOr<std::unique_ptr<ServerProcess>> StartTinykbServer(
    const std::vector<std::string>& extra_args = {});

// A suite that shares one server with tinykb loaded: tests skip when the shipped model is
// absent and fail when the server does not come up. Cli() runs prunegate against it.
class TinykbCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  // `prunegate --server <address> <args...>`.
  static CliResult Cli(const std::vector<std::string>& args);
  static ServerProcess& server() { return *server_; }

 private:
  static ServerProcess* server_;
  static std::string* start_error_;
};

}  // namespace prunegate::testing

#endif  // PRUNEGATE_TESTS_CLIENT_CLI_TESTING_H_
