// Per-call bookkeeping shared by every RPC: metrics (started / finished with the final code and
// latency), the bearer-token check, and the unary reactor that finishes a call from any thread.
// Torch-free.
#ifndef PRUNEGATE_SERVER_SERVICE_CALL_H_
#define PRUNEGATE_SERVER_SERVICE_CALL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/service/auth.h"
#include "server/service/limits.h"
#include "server/service/metrics.h"
#include "server/service/worker_pool.h"

namespace prunegate::service {

// What every call needs from the server. Owned by the service; outlives every call.
struct CallEnv {
  Metrics* metrics = nullptr;
  const BearerAuth* auth = nullptr;
  StreamLimiter* limiter = nullptr;
  ThreadTracker* threads = nullptr;  // stream workers
};

// Metrics of one call: RpcStarted on construction, RpcFinished exactly once in Finished().
class CallRecord {
 public:
  CallRecord(Metrics* metrics, std::string rpc);
  CallRecord(CallRecord&& other) noexcept;
  CallRecord& operator=(CallRecord&&) = delete;
  ~CallRecord();  // records UNKNOWN when the call was never finished

  const std::string& rpc() const { return rpc_; }
  void MessageStreamed() const;
  // Records the outcome (and releases the stream slot, if any). Idempotent.
  void Finished(const grpc::Status& status);
  void set_slot(StreamSlot slot) { slot_ = std::move(slot); }

 private:
  Metrics* metrics_ = nullptr;
  std::string rpc_;
  absl::Time start_;
  bool finished_ = false;
  StreamSlot slot_;
};

// A unary call finished from any thread (e.g. a load's completion on a registry worker).
class UnaryCall {
 public:
  // Starts the call's record and checks the bearer token; ok() is false (and the call already
  // finished with PERMISSION_DENIED) when the check failed.
  UnaryCall(const CallEnv& env, grpc::CallbackServerContext* context, const char* rpc);

  bool ok() const { return !finished_; }
  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  // Records the outcome and finishes the RPC. Call exactly once (unless !ok()).
  void Finish(const absl::Status& status);

 private:
  grpc::ServerUnaryReactor* reactor_;
  CallRecord record_;
  bool finished_ = false;
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_CALL_H_
