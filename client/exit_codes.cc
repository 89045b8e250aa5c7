#include "client/exit_codes.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace prunegate::client {

int ExitCodeForVerdict(v1::Verdict verdict) {
  switch (verdict) {
    case v1::SAFE:
      return kExitSafe;
    case v1::UNSAFE:
      return kExitUnsafe;
    case v1::RISKY:
      return kExitRisky;
    default:
      return kExitError;
  }
}

std::string StatusCodeName(grpc::StatusCode code) {
  // grpc::StatusCode and absl::StatusCode share their numbering (both are the canonical codes).
  const int value = static_cast<int>(code);
  if (value < 0 || value > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::StrCat("CODE_", value);
  }
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(value));
}

int ReportRpcError(const grpc::Status& status, std::ostream& err) {
  err << "prunegate: " << StatusCodeName(status.error_code()) << ": " << status.error_message()
      << std::endl;
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
      absl::StrContains(status.error_message(), "bearer token")) {
    err << "prunegate: the server wants its bearer token: pass --token T or set PRUNEGATE_TOKEN"
        << std::endl;
  }
  return kExitError;
}

int ReportError(const absl::Status& status, std::ostream& err) {
  err << "prunegate: " << status.message() << std::endl;
  return kExitError;
}

}  // namespace prunegate::client
