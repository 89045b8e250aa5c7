// Helpers for the metrics tests: read series back from a registry, run Prometheus's own tools
// (promtool, prometheus) as child processes. Torch-free.
#ifndef PRUNEGATE_TESTS_SERVICE_METRICS_TEST_UTIL_H_
#define PRUNEGATE_TESTS_SERVICE_METRICS_TEST_UTIL_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/client_metric.h"
#include "prometheus/labels.h"
#include "prometheus/registry.h"

namespace prunegate::testing {

// The sample of family `name` whose labels are exactly `labels`; nullopt when the family or the
// series does not exist.
std::optional<prometheus::ClientMetric> FindSeries(const prometheus::Registry& registry,
                                                   const std::string& name,
                                                   const prometheus::Labels& labels);
// The value of a counter or gauge series; nullopt when it does not exist.
std::optional<double> SeriesValue(const prometheus::Registry& registry, const std::string& name,
                                  const prometheus::Labels& labels = {});
// How many series family `name` has (0 when the family does not exist).
size_t SeriesCount(const prometheus::Registry& registry, const std::string& name);

// Absolute path of `name` on $PATH (or in /usr/bin), nullopt when absent.
std::optional<std::string> FindExecutable(const std::string& name);

struct CommandResult {
  int exit_code = -1;  // 128 + signal when a signal ended it
  std::string output;  // stdout and stderr together
};
// Runs argv[0] with its arguments, `stdin_text` on its standard input, and waits for it.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::string& stdin_text = "");

// A child process with stdout and stderr in a log file; SIGTERM (then SIGKILL) on destruction.
class ChildProcess {
 public:
  static absl::StatusOr<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                            const std::string& log_path);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  bool Running();
  // SIGTERM, then SIGKILL after `timeout`; the exit code (128 + signal for a signal).
  int Terminate(absl::Duration timeout = absl::Seconds(20));
  std::string LogTail(size_t max_bytes = 3000) const;

 private:
  ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  bool Reap(bool block);

  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

// An HTTP GET of http://host:port/path with any status; UNAVAILABLE (with httplib's error) when
// no response came back.
struct HttpResult {
  int status = 0;
  std::string content_type;
  std::string body;
};
absl::StatusOr<HttpResult> HttpGet(const std::string& host, int port, const std::string& path);

}  // namespace prunegate::testing

#endif  // PRUNEGATE_TESTS_SERVICE_METRICS_TEST_UTIL_H_
