// Runs the real prunegate-server binary as a child process for integration tests: starts it with
// the caller's arguments plus `--grpc-port 0 --metrics-port 0 --ready-file <tmp>`, waits until the
// server has written the ready file ({"grpc_port":N,"metrics_port":M}, written once SERVING), and
// stops it with SIGTERM. A caller's own --metrics-port (e.g. -1: off) takes precedence over the
// added one. The server's stdout and stderr go to files in a temp directory so a
// failed start can report the end of the server's log. Torch-free.
#ifndef PRUNEGATE_TESTS_TESTING_SERVER_PROCESS_H_
#define PRUNEGATE_TESTS_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prunegate::testing {

// Starts argv[0] (a path) with `argv`, stdin from /dev/null and stdout / stderr written to the
// given files, with the environment `envp` (nullptr = this process's). The child's pid, or
// INTERNAL naming the program when posix_spawn fails.
absl::StatusOr<pid_t> SpawnWithLogs(const std::vector<std::string>& argv,
                                    const std::string& stdout_path, const std::string& stderr_path,
                                    char* const* envp = nullptr);

class ServerProcess {
 public:
  // Path of the prunegate-server binary built with this tree (compiled in).
  static std::string BinaryPath();

  // Starts the server and waits (up to 90 s) for it to be SERVING. DEADLINE_EXCEEDED or
  // INTERNAL with the tail of the server's stderr when it does not come up or exits first.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& extra_args);
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& extra_args, absl::Duration ready_timeout);
  // Starts the server like Start() but returns as soon as its gRPC port is open, before the
  // start-up loads (--load) finish: the server binds, logs "prunegate-server: gRPC on HOST:PORT,
  // metrics on M ..." on stderr, then loads. grpc_port() and metrics_port() come from that line.
  // Follow with WaitUntilReady() to wait for SERVING.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> StartListening(
      const std::vector<std::string>& extra_args, absl::Duration timeout = absl::Seconds(90));

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // Sends SIGTERM (if still running) and reaps the process; SIGKILL after 30 s.
  ~ServerProcess();

  // Waits (up to `timeout`) until the server has written its ready file, i.e. is SERVING.
  // DEADLINE_EXCEEDED or INTERNAL with the tail of the server's stderr otherwise.
  absl::Status WaitUntilReady(absl::Duration timeout);

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }  // -1 when started with --metrics-port -1
  pid_t pid() const { return pid_; }
  std::string address() const;  // "127.0.0.1:<grpc_port>"

  // Sends SIGTERM and waits for the process. Returns its exit code, or 128 + signal when a signal
  // ended it (later calls return the same code). Kills it (SIGKILL) when it is still running
  // after `timeout`.
  int Terminate(absl::Duration timeout = absl::Seconds(30));
  // True while the process has not exited (does not reap a running process).
  bool Running();
  // The last `max_bytes` bytes of the server's stderr so far.
  std::string StderrTail(size_t max_bytes = 4000) const;

 private:
  ServerProcess() = default;
  // Spawns the server with `extra_args` plus the ports and the ready file; does not wait.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Spawn(
      const std::vector<std::string>& extra_args);
  // INTERNAL "... exited with code N ...; stderr: ..." (`what`: what it was waiting for).
  absl::Status ExitedError(const std::string& what) const;
  // Waits for the child for at most `timeout`; true (and exit_code_ set) when it has exited.
  bool WaitExit(absl::Duration timeout);

  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = -1;
  std::string dir_;  // temp directory with the ready file and the logs
  std::string stderr_path_;
  std::string ready_path_;
  std::string args_;  // the caller's arguments, for messages
};

}  // namespace prunegate::testing

#endif  // PRUNEGATE_TESTS_TESTING_SERVER_PROCESS_H_
