#include "client/connection.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/input_files.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace prunegate::client {

void AddConnectionFlags(FlagSet* flags, ConnectionOptions* options) {
  flags->BeginSection("global flags");
  flags->AddString(
      "server", &options->server, "ADDR",
      absl::StrCat("server host:port (default $PRUNEGATE_SERVER, else ", kDefaultServer, ")"));
  flags->AddString("tls-ca", &options->tls_ca, "FILE",
                   "PEM CA certificate to verify the server with (turns TLS on)");
  flags->AddString("tls-cert", &options->tls_cert, "FILE",
                   "PEM client certificate for mutual TLS (with --tls-key)");
  flags->AddString("tls-key", &options->tls_key, "FILE", "PEM private key of --tls-cert");
  flags->AddString("token", &options->token, "T", "bearer token (default $PRUNEGATE_TOKEN)");
  flags->AddDouble("timeout", &options->timeout_s, "S",
                   "deadline of each call in seconds (default: none)");
}

absl::Status ResolveConnectionOptions(const std::function<const char*(const char*)>& getenv,
                                      ConnectionOptions* options) {
  if (options->server.empty()) {
    const char* env = getenv("PRUNEGATE_SERVER");
    options->server = env != nullptr && *env != '\0' ? env : kDefaultServer;
  }
  if (options->token.empty()) {
    const char* env = getenv("PRUNEGATE_TOKEN");
    if (env != nullptr) options->token = env;
  }
  if (options->tls_cert.empty() != options->tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (options->timeout_s < 0) {
    return absl::InvalidArgumentError("--timeout must be >= 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca.empty() && options.tls_cert.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty()) {
      absl::StatusOr<std::string> ca = ReadFileToString(options.tls_ca);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.tls_cert.empty()) {
      absl::StatusOr<std::string> cert = ReadFileToString(options.tls_cert);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFileToString(options.tls_key);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  // Streams can be long; results are small, but a KL summary block or an evidence report can
  // exceed the 4 MiB default on a large suite.
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(options.server, credentials, args);
}

std::unique_ptr<grpc::ClientContext> MakeContext(const ConnectionOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (options.timeout_s > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(options.timeout_s * 1e6)));
  }
  if (!options.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
  }
  return context;
}

}  // namespace prunegate::client
