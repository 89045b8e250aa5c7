#include "server/service/status_mapping.h"

#include <new>
#include <string>

#include "absl/strings/str_cat.h"
#include "c10/util/Exception.h"

namespace prunegate::service {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode are both the canonical code space (0..16).
  const int code = static_cast<int>(status.code());
  const auto grpc_code = code >= 0 && code <= static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)
                             ? static_cast<grpc::StatusCode>(code)
                             : grpc::StatusCode::UNKNOWN;
  return grpc::Status(grpc_code, std::string(status.message()));
}

absl::Status ExceptionToStatus(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return absl::InternalError(absl::StrCat("tensor error: ", c10_error->what_without_backtrace()));
  }
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return absl::ResourceExhaustedError("out of memory");
  }
  return absl::InternalError(absl::StrCat("internal error: ", e.what()));
}

}  // namespace prunegate::service
