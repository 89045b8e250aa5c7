#include "server/service/server.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/common/status_macros.h"

namespace prunegate::service {
namespace {

constexpr char kServiceName[] = "prunegate.v1.Prunegate";

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", flag, " ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty())
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, " is empty"));
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& options) {
  if (options.tls_cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      options.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                    : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  PG_ASSIGN_OR_RETURN(pair.private_key, ReadPem(options.tls_key, "--tls-key"));
  PG_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(options.tls_cert, "--tls-cert"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!options.tls_client_ca.empty()) {
    PG_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(options.tls_client_ca, "--tls-client-ca"));
  }
  return grpc::SslServerCredentials(ssl);
}

// "host:port", with an IPv6 host in brackets.
std::string HostPort(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return ipv6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

std::vector<ModelSample> Samples(const std::vector<ModelInfo>& models) {
  std::vector<ModelSample> samples;
  for (const ModelInfo& info : models) {
    if (info.state != ModelState::kReady) continue;
    samples.push_back({info.name, info.device, info.bytes_resident, info.bytes_shared, true});
  }
  return samples;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrunegateServer>> PrunegateServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<PrunegateServer> server(new PrunegateServer(options));
  server->prometheus_ = std::make_shared<prometheus::Registry>();
  server->metrics_ = std::make_unique<Metrics>(server->prometheus_);
  Metrics* metrics = server->metrics_.get();
  RegistryOptions registry_options;
  registry_options.model_root = options.model_root;
  registry_options.default_device = options.device;
  registry_options.memory_budget_bytes = options.memory_budget_bytes;
  registry_options.load_threads = options.load_threads;
  PG_ASSIGN_OR_RETURN(
      server->registry_,
      ModelRegistry::Create(registry_options, [metrics](const std::vector<ModelInfo>& models) {
        metrics->SetModels(Samples(models));
      }));
  ServiceOptions service_options;
  service_options.limits = options.limits;
  service_options.max_streams = options.max_streams;
  service_options.max_streams_per_client = options.max_streams_per_client;
  service_options.token = options.token;
  server->service_ =
      std::make_unique<PrunegateService>(server->registry_.get(), metrics, service_options);

  PG_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, Credentials(options));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string address = HostPort(options.host, options.grpc_port);
  builder.AddListeningPort(address, credentials, &server->grpc_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_request_bytes));
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", address));
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(kServiceName, false);
  health->SetServingStatus(false);

  if (options.metrics_port >= 0) {
    PG_ASSIGN_OR_RETURN(
        server->metrics_http_,
        MetricsHttpServer::Start(server->prometheus_, options.host, options.metrics_port));
  }
  return server;
}

PrunegateServer::~PrunegateServer() { Shutdown(absl::ZeroDuration()); }

int PrunegateServer::metrics_port() const {
  return metrics_http_ != nullptr ? metrics_http_->port() : -1;
}

absl::Status PrunegateServer::LoadStartupModels() {
  for (const StartupLoad& load : options_.loads) {
    absl::Notification loaded;
    absl::Status outcome;
    absl::StatusOr<ModelInfo> queued =
        registry_->Load({load.name, load.path, load.device, load.dtype},
                        [&](const absl::StatusOr<ModelInfo>& info) {
                          outcome = info.status();
                          loaded.Notify();
                        });
    if (queued.ok()) loaded.WaitForNotification();
    const absl::Status status = queued.ok() ? outcome : queued.status();
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("--load ", load.name, "=", load.path, ": ",
                                                      status.message()));
    }
    std::cerr << "prunegate-server: loaded " << load.name << " from " << queued->path << "\n";
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  return WriteReadyFile();
}

absl::Status PrunegateServer::WriteReadyFile() const {
  if (options_.ready_file.empty()) return absl::OkStatus();
  const std::string tmp = options_.ready_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << "{\"grpc_port\":" << grpc_port_ << ",\"metrics_port\":" << metrics_port() << "}\n";
    if (!out) return absl::InvalidArgumentError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), options_.ready_file.c_str()) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write the ready file ", options_.ready_file));
  }
  return absl::OkStatus();
}

void PrunegateServer::Shutdown(absl::Duration drain) {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + drain));
    server_->Wait();
  }
  if (metrics_http_ != nullptr) metrics_http_->Stop();
}

}  // namespace prunegate::service
