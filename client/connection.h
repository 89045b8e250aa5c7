// How the CLI reaches the server: the global flags (--server, TLS files, --token, --timeout) with
// their environment fallbacks, the channel they describe, and the per-call context (deadline,
// bearer token).
#ifndef PRUNEGATE_CLIENT_CONNECTION_H_
#define PRUNEGATE_CLIENT_CONNECTION_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/flags.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace prunegate::client {

inline constexpr char kDefaultServer[] = "127.0.0.1:50051";

struct ConnectionOptions {
  std::string server;    // host:port; "" = $PRUNEGATE_SERVER, else kDefaultServer
  std::string tls_ca;    // PEM file of the CA that signed the server's certificate
  std::string tls_cert;  // PEM client certificate (mTLS), with tls_key
  std::string tls_key;
  std::string token;     // bearer token; "" = $PRUNEGATE_TOKEN
  double timeout_s = 0;  // per-RPC deadline in seconds; 0 = none
};

// Binds the global flags to `options`, listed under "global flags" in the usage.
void AddConnectionFlags(FlagSet* flags, ConnectionOptions* options);

// Fills the empty server and token from the environment (looked up with `getenv`, which tests
// replace) and the server's default; INVALID_ARGUMENT for --tls-cert without --tls-key (or the
// reverse) and a negative timeout.
absl::Status ResolveConnectionOptions(const std::function<const char*(const char*)>& getenv,
                                      ConnectionOptions* options);

// A channel to options.server: TLS when any TLS file is given (reading them; NOT_FOUND naming a
// file that cannot be read), else plaintext. The channel connects lazily: an unreachable server
// shows up as UNAVAILABLE on the first call.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& options);

// Sets the deadline and the "authorization: Bearer <token>" metadata on a fresh context.
std::unique_ptr<grpc::ClientContext> MakeContext(const ConnectionOptions& options);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_CONNECTION_H_
