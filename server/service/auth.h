// Bearer-token authentication ("authorization: Bearer <token>" metadata) and the key that
// identifies a client for per-client limits. Torch-free.
#ifndef PRUNEGATE_SERVER_SERVICE_AUTH_H_
#define PRUNEGATE_SERVER_SERVICE_AUTH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace prunegate::service {

class BearerAuth {
 public:
  // An empty token disables authentication.
  explicit BearerAuth(std::string token) : token_(std::move(token)) {}

  bool enabled() const { return !token_.empty(); }
  // OK when disabled or the call carries the token; PERMISSION_DENIED otherwise, with a message
  // naming the failure: "missing bearer token", "malformed authorization metadata" (another
  // scheme, or no token after "Bearer ") or "wrong bearer token" (compared in constant time).
  absl::Status Check(const grpc::ServerContextBase& context) const;

 private:
  std::string token_;
};

// Reads a token file: its content with surrounding whitespace removed. INVALID_ARGUMENT when the
// file cannot be read or holds no token.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

// "token:<token>" when the call carries a bearer token, else "peer:<ip>" (the peer address
// without its port; "peer:<address>" for non-IP transports).
std::string ClientKey(const grpc::ServerContextBase& context);

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_AUTH_H_
