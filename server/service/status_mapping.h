// The one place where library statuses become gRPC statuses, and where exceptions thrown below
// the tensor boundary (c10::Error from libtorch, std::bad_alloc, ...) become statuses instead of
// crashing the server. Codes carry over one to one (absl and gRPC share the canonical codes):
// INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, PERMISSION_DENIED,
// UNAUTHENTICATED, CANCELLED, ... Torch-free.
#ifndef PRUNEGATE_SERVER_SERVICE_STATUS_MAPPING_H_
#define PRUNEGATE_SERVER_SERVICE_STATUS_MAPPING_H_

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"

namespace prunegate::service {

grpc::Status ToGrpcStatus(const absl::Status& status);

// INTERNAL carrying the exception's message (a c10::Error's message without its C++ backtrace;
// RESOURCE_EXHAUSTED for std::bad_alloc).
absl::Status ExceptionToStatus(const std::exception& e);

// Runs `fn` (returning absl::Status or absl::StatusOr<T>) and turns any exception it throws into
// a status.
template <typename Fn>
auto CatchExceptions(Fn&& fn) -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::exception& e) {
    return ExceptionToStatus(e);
  } catch (...) {
    return absl::InternalError("unknown exception");
  }
}

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_STATUS_MAPPING_H_
