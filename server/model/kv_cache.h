// Per-session key/value cache for a batch of sequences, one slot per fed token.
#ifndef PRUNEGATE_SERVER_MODEL_KV_CACHE_H_
#define PRUNEGATE_SERVER_MODEL_KV_CACHE_H_

#include <vector>

#include "ATen/core/Tensor.h"
#include "server/model/config.h"

namespace prunegate {

// Slots [0, length) hold every token fed so far, in feed order, for all B sequences at once (a
// batch advances in lockstep). A slot may be padding for some sequences (left-padded prompts of
// different lengths): `valid` marks real tokens. Keys are stored after RoPE. Capacity grows by
// doubling, so a decode step allocates nothing.
class KvCache {
 public:
  KvCache() = default;
  // `layers` caches for `batch` sequences; tensors are allocated lazily on the first Append.
  KvCache(int layers, int64_t batch, int64_t kv_heads, int64_t head_dim);

  int64_t length() const { return length_; }
  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  // Makes room for `n` more slots (does not change length()).
  void Reserve(int64_t n, const at::TensorOptions& options);
  // Writes k, v (B, KVH, S, D) of `layer` at slots [length, length+S). Call for every layer
  // (possibly a subset, for dropped sublayers), then Advance(S, positions, valid) once.
  void Write(int layer, const at::Tensor& k, const at::Tensor& v);
  // Commits S slots: positions (B, S) int64 and valid (B, S) bool.
  void Advance(const at::Tensor& positions, const at::Tensor& valid);
  // Views of slots [0, length + pending) of `layer`: (B, KVH, L, D).
  at::Tensor keys(int layer, int64_t pending) const;
  at::Tensor values(int layer, int64_t pending) const;
  // (B, length) views of committed slot metadata.
  at::Tensor positions() const;
  at::Tensor valid() const;
  // Forgets everything (keeps the buffers).
  void Clear() { length_ = 0; }

 private:
  int64_t batch_ = 0, kv_heads_ = 0, head_dim_ = 0;
  int64_t length_ = 0, capacity_ = 0;
  std::vector<at::Tensor> k_, v_;  // (B, KVH, capacity, D) each
  at::Tensor positions_;           // (B, capacity) int64
  at::Tensor valid_;               // (B, capacity) bool
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_KV_CACHE_H_
