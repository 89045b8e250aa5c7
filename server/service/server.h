// The whole prunegate server: model registry, Prunegate service, gRPC server (TLS / mTLS, health,
// reflection, request size limit) and the Prometheus /metrics listener. Torch-free header.
//
// Life cycle: Start() binds and serves with health NOT_SERVING; LoadStartupModels() loads the
// --load models and, once all are READY, flips health to SERVING and writes the ready file;
// Shutdown() flips health back to NOT_SERVING and drains (in-flight calls get up to the drain
// time to finish, then they are cancelled).
#ifndef PRUNEGATE_SERVER_SERVICE_SERVER_H_
#define PRUNEGATE_SERVER_SERVICE_SERVER_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "prometheus/registry.h"
#include "server/service/metrics.h"
#include "server/service/metrics_http.h"
#include "server/service/prunegate_service.h"
#include "server/service/registry.h"
#include "server/service/server_options.h"

namespace prunegate::service {

class PrunegateServer {
 public:
  // INVALID_ARGUMENT for unreadable TLS files or a bad model root; UNAVAILABLE when a port
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<PrunegateServer>> Start(const ServerOptions& options);
  PrunegateServer(const PrunegateServer&) = delete;
  PrunegateServer& operator=(const PrunegateServer&) = delete;
  ~PrunegateServer();  // Shutdown() with no drain time if it was not called

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const;  // -1 when metrics are off

  // Loads the start-up models (waiting for each), then reports SERVING and writes the ready
  // file. The first failed load's status (the model named), and health stays NOT_SERVING.
  absl::Status LoadStartupModels();
  void Shutdown(absl::Duration drain);

 private:
  explicit PrunegateServer(const ServerOptions& options) : options_(options) {}
  absl::Status WriteReadyFile() const;

  const ServerOptions options_;
  std::shared_ptr<prometheus::Registry> prometheus_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<PrunegateService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_SERVER_H_
