#include "server/service/call.h"

#include <utility>

#include "server/service/status_mapping.h"

namespace prunegate::service {

CallRecord::CallRecord(Metrics* metrics, std::string rpc)
    : metrics_(metrics), rpc_(std::move(rpc)), start_(absl::Now()) {
  if (metrics_ != nullptr) metrics_->RpcStarted(rpc_);
}

CallRecord::CallRecord(CallRecord&& other) noexcept
    : metrics_(std::exchange(other.metrics_, nullptr)),
      rpc_(std::move(other.rpc_)),
      start_(other.start_),
      finished_(std::exchange(other.finished_, true)),
      slot_(std::move(other.slot_)) {}

CallRecord::~CallRecord() { Finished(grpc::Status(grpc::StatusCode::UNKNOWN, "call abandoned")); }

void CallRecord::MessageStreamed() const {
  if (metrics_ != nullptr) metrics_->MessageStreamed(rpc_);
}

void CallRecord::Finished(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  slot_.Release();
  if (metrics_ != nullptr) {
    metrics_->RpcFinished(rpc_, static_cast<int>(status.error_code()),
                          absl::ToDoubleSeconds(absl::Now() - start_));
  }
}

UnaryCall::UnaryCall(const CallEnv& env, grpc::CallbackServerContext* context, const char* rpc)
    : reactor_(context->DefaultReactor()), record_(env.metrics, rpc) {
  const absl::Status auth = env.auth->Check(*context);
  if (!auth.ok()) Finish(auth);
}

void UnaryCall::Finish(const absl::Status& status) {
  if (finished_) return;
  finished_ = true;
  const grpc::Status grpc_status = ToGrpcStatus(status);
  record_.Finished(grpc_status);
  reactor_->Finish(grpc_status);
}

}  // namespace prunegate::service
