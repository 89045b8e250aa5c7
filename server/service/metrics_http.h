// GET /metrics for a prometheus::Registry, in the Prometheus text format 0.0.4.
//
// prometheus-cpp's own pull Exposer cannot run in this process: its civetweb threads ask for a
// fixed 100 KiB stack, which libtorch's static TLS does not leave room for, so pthread_create
// fails (TOOLCHAIN.md trap 2). This server is cpp-httplib on std::threads, which get the default
// stack size, and serializes with prometheus-cpp core's TextSerializer.
#ifndef PRUNEGATE_SERVER_SERVICE_METRICS_HTTP_H_
#define PRUNEGATE_SERVER_SERVICE_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/registry.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace prunegate::service {

// The Content-Type of a /metrics response.
inline constexpr char kPrometheusTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Serves GET (and HEAD) /metrics; every other path answers 404 and other methods on /metrics
// answer 405. Thread-safe.
class MetricsHttpServer {
 public:
  // Binds host:port (port 0 = any free port) and starts serving before it returns.
  // Errors: INVALID_ARGUMENT for a null registry, an empty or unresolvable host or a port outside
  // 0..65535; UNAVAILABLE when the address is in use; FAILED_PRECONDITION when it cannot be bound
  // for another reason (not a local address, permission); INTERNAL when the listener exits at
  // once.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      std::shared_ptr<prometheus::Registry> registry, const std::string& host, int port);

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  ~MetricsHttpServer();  // Stop()

  // The bound port (the chosen one when Start was given 0).
  int port() const { return port_; }
  // Closes the listening socket and joins the listener; requests in progress finish first.
  // Idempotent. The port can be bound again afterwards.
  void Stop() ABSL_LOCKS_EXCLUDED(stop_mu_);

 private:
  MetricsHttpServer(std::unique_ptr<httplib::Server> server, int port);

  std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::thread listener_;
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_METRICS_HTTP_H_
