// Per-request state over an immutable Model: KV cache and token bookkeeping for a batch of
// sequences decoded in lockstep. Runs under c10::InferenceMode; validates every input.
#ifndef PRUNEGATE_SERVER_MODEL_SESSION_H_
#define PRUNEGATE_SERVER_MODEL_SESSION_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "server/model/kv_cache.h"
#include "server/model/model.h"
#include "server/model/transformer.h"

namespace prunegate {

enum class LogitsMode {
  kNone,  // only the hidden state is kept
  kLast,  // (B, V): after each sequence's last fed token
  kAll,   // (B, S, V): after every fed token (padding rows included; see Feed)
};

class Session {
 public:
  // `batch` sequences advance together. INVALID_ARGUMENT for batch < 1.
  static absl::StatusOr<std::unique_ptr<Session>> Create(std::shared_ptr<const Model> model,
                                                         int64_t batch = 1);

  // Feeds one chunk of tokens per sequence (prompts of different lengths are left-padded to the
  // longest; padding never attends or is attended to). Returns float32 logits per `mode`.
  // INVALID_ARGUMENT: wrong number of sequences, every chunk empty, an id outside
  // [0, vocab_size), or a position beyond max_position_embeddings.
  absl::StatusOr<at::Tensor> Feed(const std::vector<std::vector<int64_t>>& tokens,
                                  LogitsMode mode = LogitsMode::kLast, SublayerTap* tap = nullptr);
  // One token per sequence; returns (B, V) logits.
  absl::StatusOr<at::Tensor> Step(const std::vector<int64_t>& ids, SublayerTap* tap = nullptr);

  // Hidden state (B, S, H) before the final norm from the last Feed/Step, and which of its slots
  // are real tokens (B, S) bool.
  const at::Tensor& last_hidden() const { return last_hidden_; }
  const at::Tensor& last_valid() const { return last_valid_; }
  // Tokens fed so far per sequence (excluding padding).
  const std::vector<int64_t>& lengths() const { return next_position_; }
  int64_t batch() const { return batch_; }
  const Model& model() const { return *model_; }
  std::shared_ptr<const Model> shared_model() const { return model_; }
  KvCache& cache() { return cache_; }
  // Forgets all tokens (keeps buffers).
  void Reset();

 private:
  Session(std::shared_ptr<const Model> model, int64_t batch);
  std::shared_ptr<const Model> model_;
  int64_t batch_;
  KvCache cache_;
  std::vector<int64_t> next_position_;
  at::Tensor last_hidden_, last_valid_;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_SESSION_H_
