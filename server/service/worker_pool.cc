#include "server/service/worker_pool.h"

#include <algorithm>
#include <system_error>
#include <utility>

namespace prunegate::service {

WorkerPool::WorkerPool(int threads) {
  for (int i = 0; i < std::max(threads, 1); ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::Submit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(task));
}

void WorkerPool::Run() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

bool ThreadTracker::Spawn(std::function<void()> fn) {
  {
    absl::MutexLock lock(&state_->mu);
    ++state_->running;
  }
  try {
    std::thread([state = state_, fn = std::move(fn)]() mutable {
      fn();
      fn = nullptr;  // release what the task captured before reporting it done
      absl::MutexLock lock(&state->mu);
      --state->running;
    }).detach();
  } catch (const std::system_error&) {
    absl::MutexLock lock(&state_->mu);
    --state_->running;
    return false;
  }
  return true;
}

void ThreadTracker::WaitIdle() {
  absl::MutexLock lock(&state_->mu);
  state_->mu.Await(absl::Condition(
      +[](State* state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) { return state->running == 0; },
      state_.get()));
}

}  // namespace prunegate::service
