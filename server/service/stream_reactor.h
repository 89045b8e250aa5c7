// The server-streaming reactor shared by every streaming RPC (gRPC callback API).
//
// The probe runs on its own worker thread and hands each message to the reactor through a
// bounded queue: Write() blocks while the queue is full (back-pressure: a slow client slows the
// probe instead of growing memory). The reactor keeps one write outstanding and starts the next
// in OnWriteDone. OnCancel (client cancel, deadline, server shutdown) and a failed write set an
// atomic flag that the probe's `cancelled` callback polls, so the work stops within one layer or
// step and its sessions are freed; the call then finishes with CANCELLED (DEADLINE_EXCEEDED when
// its deadline has passed, so the metrics tell the two apart). When the work returns, the queued
// messages are written and the call finishes with the work's status. OnDone deletes the reactor.
// Torch-free.
#ifndef PRUNEGATE_SERVER_SERVICE_STREAM_REACTOR_H_
#define PRUNEGATE_SERVER_SERVICE_STREAM_REACTOR_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <iterator>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/service/call.h"
#include "server/service/status_mapping.h"

namespace prunegate::service {

// The stream as the worker sees it.
template <typename Msg>
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues `message`; blocks while the queue is full. False once the call is cancelled: stop.
  virtual bool Write(Msg message) = 0;
  // True once the client cancelled, the deadline passed, a write failed or the server drains.
  virtual bool Cancelled() const = 0;
  // Cancelled() as the libraries' `cancelled` callback.
  std::function<bool()> CancelledFn() const {
    return [this] { return Cancelled(); };
  }
};

template <typename Msg>
class StreamReactor final : public grpc::ServerWriteReactor<Msg>, public StreamWriter<Msg> {
 public:
  using Work = std::function<absl::Status(StreamWriter<Msg>&)>;
  static constexpr size_t kQueueCapacity = 8;

  // Checks the token and the stream limits, then runs `work` on a new worker thread; a call
  // that fails a check finishes at once with its status.
  static grpc::ServerWriteReactor<Msg>* Start(const CallEnv& env,
                                              grpc::CallbackServerContext* context, const char* rpc,
                                              Work work) {
    auto* reactor = new StreamReactor(CallRecord(env.metrics, rpc), context->deadline());
    absl::Status admitted = env.auth->Check(*context);
    if (admitted.ok()) {
      absl::StatusOr<StreamSlot> slot = env.limiter->Acquire(ClientKey(*context));
      if (slot.ok()) {
        reactor->record_.set_slot(*std::move(slot));
      } else {
        admitted = slot.status();
      }
    }
    if (admitted.ok() &&
        !env.threads->Spawn([reactor, work = std::move(work)] { reactor->RunWork(work); })) {
      admitted = absl::ResourceExhaustedError("cannot start a worker thread for the stream");
    }
    if (!admitted.ok()) reactor->WorkDone(admitted);
    return reactor;
  }

  bool Write(Msg message) override {
    const Msg* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &StreamReactor::HasRoomOrCancelled));
      if (cancelled_.load()) return false;
      queue_.push_back(std::move(message));  // keeps references to the queued messages valid
      if (writing_) return true;
      writing_ = true;
      next = &queue_.front();
    }
    this->StartWrite(next);
    return true;
  }

  bool Cancelled() const override { return cancelled_.load(); }

  void OnWriteDone(bool ok) override {
    const Msg* next = nullptr;
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      queue_.pop_front();
      if (ok) {
        record_.MessageStreamed();
      } else {
        cancelled_.store(true);  // the stream is broken; no write can succeed any more
        queue_.clear();
      }
      if (!queue_.empty() && !cancelled_.load()) {
        next = &queue_.front();
      } else {
        writing_ = false;
        finish = TakeFinish(&status);
      }
    }
    if (next != nullptr) {
      this->StartWrite(next);
    } else if (finish) {
      FinishCall(status);  // may delete this
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_.store(true);  // wakes a Write() waiting for room (Await re-checks)
  }

  void OnDone() override { delete this; }

 private:
  StreamReactor(CallRecord record, std::chrono::system_clock::time_point deadline)
      : record_(std::move(record)), deadline_(deadline) {}

  bool HasRoomOrCancelled() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_.load() || queue_.size() < kQueueCapacity;
  }

  void RunWork(const Work& work) {
    absl::Status status = CatchExceptions([&] { return work(*this); });
    WorkDone(std::move(status));  // last touch of `this` on the worker thread
  }

  // The work is over: finish now, or let the last OnWriteDone finish.
  void WorkDone(absl::Status status) {
    grpc::Status final_status;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      work_done_ = true;
      work_status_ = std::move(status);
      if (cancelled_.load()) DropUnsent();
      if (!writing_) finish = TakeFinish(&final_status);
    }
    if (finish) FinishCall(final_status);  // may delete this
  }

  // Drops the queued messages gRPC has not been handed. While a write is outstanding its message
  // (the front) stays: gRPC may still read it, and OnWriteDone pops it.
  void DropUnsent() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queue_.erase(writing_ ? std::next(queue_.begin()) : queue_.begin(), queue_.end());
  }

  // True (once) when the call should finish now; sets the status it finishes with.
  bool TakeFinish(grpc::Status* status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!work_done_ || finish_taken_) return false;
    finish_taken_ = true;
    *status = cancelled_.load() && work_status_.ok()
                  ? grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled")
                  : ToGrpcStatus(work_status_);
    // A call whose deadline passed is recorded as DEADLINE_EXCEEDED (what its client sees), not
    // as a client's cancel.
    if (status->error_code() == grpc::StatusCode::CANCELLED &&
        std::chrono::system_clock::now() >= deadline_) {
      *status = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed");
    }
    return true;
  }

  void FinishCall(const grpc::Status& status) {
    record_.Finished(status);
    this->Finish(status);
  }

  CallRecord record_;
  const std::chrono::system_clock::time_point deadline_;  // time_point::max() when none
  absl::Mutex mu_;
  std::atomic<bool> cancelled_{false};
  std::deque<Msg> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a write is outstanding
  bool work_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_taken_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status work_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_STREAM_REACTOR_H_
