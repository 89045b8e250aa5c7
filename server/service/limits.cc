#include "server/service/limits.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace prunegate::service {

absl::Status CheckLimit(const char* what, int64_t value, int64_t limit, const char* flag) {
  if (value <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat(what, " (", value, ") exceeds the server limit ", flag, " ", limit));
}

StreamSlot& StreamSlot::operator=(StreamSlot&& other) noexcept {
  if (this != &other) {
    Release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    client_ = std::move(other.client_);
  }
  return *this;
}

void StreamSlot::Release() {
  if (limiter_ == nullptr) return;
  std::exchange(limiter_, nullptr)->Release(client_);
}

absl::StatusOr<StreamSlot> StreamLimiter::Acquire(const std::string& client) {
  absl::MutexLock lock(&mu_);
  if (max_streams_ > 0 && total_ >= max_streams_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server already runs ", total_, " streams, its limit (--max-streams ",
                     max_streams_, "); retry when one has finished"));
  }
  int& mine = per_client_[client];
  if (max_per_client_ > 0 && mine >= max_per_client_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this client already runs ", mine, " streams, its limit (--max-streams-per-client ",
        max_per_client_, "); retry when one has finished"));
  }
  ++mine;
  ++total_;
  return StreamSlot(this, client);
}

int StreamLimiter::in_flight() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

void StreamLimiter::Release(const std::string& client) {
  absl::MutexLock lock(&mu_);
  --total_;
  auto it = per_client_.find(client);
  if (it != per_client_.end() && --it->second <= 0) per_client_.erase(it);
}

}  // namespace prunegate::service
