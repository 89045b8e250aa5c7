// A fixed set of worker threads running queued tasks in order (model loads and derivations).
// The destructor runs every task already queued, then joins. Torch-free.
#ifndef PRUNEGATE_SERVER_SERVICE_WORKER_POOL_H_
#define PRUNEGATE_SERVER_SERVICE_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace prunegate::service {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();

  void Submit(std::function<void()> task);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Counts detached threads (one per stream) so that their owner can wait for all of them before
// it is destroyed.
class ThreadTracker {
 public:
  ThreadTracker() : state_(std::make_shared<State>()) {}
  ThreadTracker(const ThreadTracker&) = delete;
  ThreadTracker& operator=(const ThreadTracker&) = delete;
  ~ThreadTracker() { WaitIdle(); }

  // Runs `fn` on a new detached thread. False (and `fn` not run) when no thread can be created.
  bool Spawn(std::function<void()> fn);
  // Returns once every spawned `fn` has returned.
  void WaitIdle();

 private:
  // Shared with the threads, so that a thread's last touch never outlives it.
  struct State {
    absl::Mutex mu;
    int running ABSL_GUARDED_BY(mu) = 0;
  };
  std::shared_ptr<State> state_;
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_WORKER_POOL_H_
