// Request limits and the concurrent-stream limiter (server-wide and per client). Torch-free.
#ifndef PRUNEGATE_SERVER_SERVICE_LIMITS_H_
#define PRUNEGATE_SERVER_SERVICE_LIMITS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace prunegate::service {

// Per-request limits; a request beyond one gets RESOURCE_EXHAUSTED naming the limit and its flag.
struct RequestLimits {
  int64_t max_prompt_tokens = 4096;  // tokens of one prompt, text or reference
  int64_t max_decode_steps = 1024;   // decode steps of one trace / layer probe / assessment
  int64_t max_temperatures = 16;     // temperatures of one request
  int64_t max_items = 1024;          // items, texts, prompts or retrieval sets of one request
};

// RESOURCE_EXHAUSTED "<what> (<value>) exceeds the server limit <flag> <limit>" when value > limit.
absl::Status CheckLimit(const char* what, int64_t value, int64_t limit, const char* flag);

class StreamLimiter;

// One admitted stream; releases its place when destroyed or released.
class StreamSlot {
 public:
  StreamSlot() = default;
  StreamSlot(StreamSlot&& other) noexcept { *this = std::move(other); }
  StreamSlot& operator=(StreamSlot&& other) noexcept;
  ~StreamSlot() { Release(); }
  void Release();

 private:
  friend class StreamLimiter;
  StreamSlot(StreamLimiter* limiter, std::string client)
      : limiter_(limiter), client_(std::move(client)) {}
  StreamLimiter* limiter_ = nullptr;
  std::string client_;
};

class StreamLimiter {
 public:
  // 0 = unlimited.
  StreamLimiter(int max_streams, int max_streams_per_client)
      : max_streams_(max_streams), max_per_client_(max_streams_per_client) {}

  // RESOURCE_EXHAUSTED when the server or this client already has its maximum of streams open.
  absl::StatusOr<StreamSlot> Acquire(const std::string& client);
  int in_flight() const;

 private:
  friend class StreamSlot;
  void Release(const std::string& client);

  const int max_streams_;
  const int max_per_client_;
  mutable absl::Mutex mu_;
  int total_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> per_client_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_LIMITS_H_
