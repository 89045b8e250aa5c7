#include "server/model/kv_cache.h"

#include <algorithm>

#include "torch/torch.h"

namespace prunegate {

KvCache::KvCache(int layers, int64_t batch, int64_t kv_heads, int64_t head_dim)
    : batch_(batch), kv_heads_(kv_heads), head_dim_(head_dim), k_(layers), v_(layers) {}

void KvCache::Reserve(int64_t n, const at::TensorOptions& options) {
  const int64_t need = length_ + n;
  if (need <= capacity_ && positions_.defined()) return;
  int64_t cap = std::max<int64_t>(capacity_ > 0 ? capacity_ : 16, 16);
  while (cap < need) cap *= 2;
  auto grow = [&](at::Tensor& t, at::IntArrayRef shape, const at::TensorOptions& opts, int dim) {
    at::Tensor bigger = torch::zeros(shape, opts);
    if (t.defined() && length_ > 0) bigger.narrow(dim, 0, length_).copy_(t.narrow(dim, 0, length_));
    t = bigger;
  };
  for (size_t l = 0; l < k_.size(); ++l) {
    grow(k_[l], {batch_, kv_heads_, cap, head_dim_}, options, 2);
    grow(v_[l], {batch_, kv_heads_, cap, head_dim_}, options, 2);
  }
  grow(positions_, {batch_, cap}, options.dtype(torch::kLong), 1);
  grow(valid_, {batch_, cap}, options.dtype(torch::kBool), 1);
  capacity_ = cap;
}

void KvCache::Write(int layer, const at::Tensor& k, const at::Tensor& v) {
  const int64_t s = k.size(2);
  k_[layer].narrow(2, length_, s).copy_(k);
  v_[layer].narrow(2, length_, s).copy_(v);
}

void KvCache::Advance(const at::Tensor& positions, const at::Tensor& valid) {
  const int64_t s = positions.size(1);
  positions_.narrow(1, length_, s).copy_(positions);
  valid_.narrow(1, length_, s).copy_(valid);
  length_ += s;
}

at::Tensor KvCache::keys(int layer, int64_t pending) const {
  return k_[layer].narrow(2, 0, length_ + pending);
}
at::Tensor KvCache::values(int layer, int64_t pending) const {
  return v_[layer].narrow(2, 0, length_ + pending);
}
at::Tensor KvCache::positions() const { return positions_.narrow(1, 0, length_); }
at::Tensor KvCache::valid() const { return valid_.narrow(1, 0, length_); }

}  // namespace prunegate
