// The CLI's exit codes and how errors reach stderr. `prunegate gate` is a pipeline step, so its
// exit code is the verdict: 0 SAFE, 1 UNSAFE, 2 RISKY; every other command exits 0 on success.
// Any error (bad flags, unreadable file, connection failure, RPC error) exits 3.
#ifndef PRUNEGATE_CLIENT_EXIT_CODES_H_
#define PRUNEGATE_CLIENT_EXIT_CODES_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "prunegate/v1/prunegate.pb.h"

namespace prunegate::client {

inline constexpr int kExitSafe = 0;
inline constexpr int kExitUnsafe = 1;
inline constexpr int kExitRisky = 2;
inline constexpr int kExitError = 3;

// SAFE → 0, UNSAFE → 1, RISKY → 2; VERDICT_UNSPECIFIED (a server that gave no verdict) → 3.
int ExitCodeForVerdict(v1::Verdict verdict);

// "NOT_FOUND", "PERMISSION_DENIED", ... ("CODE_<n>" for a code outside the gRPC set).
std::string StatusCodeName(grpc::StatusCode code);

// Writes "prunegate: CODE: message" to `err` and returns kExitError; a PERMISSION_DENIED about
// the bearer token (missing or wrong) adds a line saying how to pass one.
int ReportRpcError(const grpc::Status& status, std::ostream& err);
// Writes "prunegate: message" to `err` and returns kExitError (local errors: files, flags).
int ReportError(const absl::Status& status, std::ostream& err);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_EXIT_CODES_H_
