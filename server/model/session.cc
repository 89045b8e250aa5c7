#include "server/model/session.h"

#include "absl/strings/str_cat.h"
#include "torch/torch.h"

namespace prunegate {

absl::StatusOr<std::unique_ptr<Session>> Session::Create(std::shared_ptr<const Model> model,
                                                         int64_t batch) {
  if (model == nullptr) return absl::InvalidArgumentError("session needs a model");
  if (batch < 1) return absl::InvalidArgumentError(absl::StrCat("batch must be >= 1, got ", batch));
  return std::unique_ptr<Session>(new Session(std::move(model), batch));
}

Session::Session(std::shared_ptr<const Model> model, int64_t batch)
    : model_(std::move(model)),
      batch_(batch),
      cache_(model_->num_layers(), batch, model_->config().num_key_value_heads,
             model_->config().head_dim),
      next_position_(batch, 0) {}

void Session::Reset() {
  cache_.Clear();
  std::fill(next_position_.begin(), next_position_.end(), 0);
  last_hidden_ = at::Tensor();
  last_valid_ = at::Tensor();
}

absl::StatusOr<at::Tensor> Session::Feed(const std::vector<std::vector<int64_t>>& tokens,
                                         LogitsMode mode, SublayerTap* tap) {
  const ModelConfig& c = model_->config();
  if (static_cast<int64_t>(tokens.size()) != batch_) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", tokens.size(), " sequences for a session of batch ", batch_));
  }
  int64_t s = 0;
  for (const auto& t : tokens) s = std::max<int64_t>(s, t.size());
  if (s == 0) return absl::InvalidArgumentError("no tokens to feed (empty prompt)");
  for (int64_t b = 0; b < batch_; ++b) {
    for (size_t i = 0; i < tokens[b].size(); ++i) {
      const int64_t id = tokens[b][i];
      if (id < 0 || id >= c.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " at position ", i, " of sequence ", b,
                         " is outside the vocabulary [0, ", c.vocab_size, ")"));
      }
    }
    if (next_position_[b] + static_cast<int64_t>(tokens[b].size()) > c.max_position_embeddings) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", b, " would reach ", next_position_[b] + tokens[b].size(),
                       " tokens, beyond max_position_embeddings ", c.max_position_embeddings));
    }
  }

  c10::InferenceMode guard;
  // Left-pad to S: real tokens take the last tokens[b].size() slots.
  at::Tensor ids = torch::zeros({batch_, s}, torch::kLong);
  at::Tensor pos = torch::zeros({batch_, s}, torch::kLong);
  at::Tensor valid = torch::zeros({batch_, s}, torch::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto pos_a = pos.accessor<int64_t, 2>();
  auto valid_a = valid.accessor<bool, 2>();
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t n = tokens[b].size(), pad = s - n;
    for (int64_t i = 0; i < s; ++i) {
      const bool real = i >= pad;
      ids_a[b][i] = real ? tokens[b][i - pad] : 0;
      pos_a[b][i] = real ? next_position_[b] + (i - pad) : next_position_[b];
      valid_a[b][i] = real;
    }
  }
  const auto device = model_->device();
  ForwardInput in{ids.to(device), pos.to(device), valid.to(device)};
  try {
    last_hidden_ = Transformer::Forward(*model_, in, &cache_, tap);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("forward pass failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("forward pass failed: ", e.what()));
  }
  last_valid_ = in.valid;
  for (int64_t b = 0; b < batch_; ++b) next_position_[b] += tokens[b].size();
  switch (mode) {
    case LogitsMode::kNone:
      return at::Tensor();
    case LogitsMode::kLast:
      return Transformer::Logits(*model_, last_hidden_.select(1, s - 1));
    case LogitsMode::kAll:
      return Transformer::Logits(*model_, last_hidden_);
  }
  return at::Tensor();
}

absl::StatusOr<at::Tensor> Session::Step(const std::vector<int64_t>& ids, SublayerTap* tap) {
  std::vector<std::vector<int64_t>> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) tokens.push_back({id});
  return Feed(tokens, LogitsMode::kLast, tap);
}

}  // namespace prunegate
