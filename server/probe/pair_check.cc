#include "server/probe/pair_check.h"

#include "absl/strings/str_cat.h"

namespace prunegate::probe {

absl::Status CheckPair(const ModelConfig& a, const ModelConfig& b, PairNeeds needs) {
  auto differs = [](const char* what, int64_t x, int64_t y) {
    return absl::InvalidArgumentError(
        absl::StrCat("baseline and candidate differ in ", what, ": ", x, " vs ", y));
  };
  if (a.vocab_size != b.vocab_size) return differs("vocab_size", a.vocab_size, b.vocab_size);
  if (needs == PairNeeds::kVocabulary) return absl::OkStatus();
  if (a.hidden_size != b.hidden_size) return differs("hidden_size", a.hidden_size, b.hidden_size);
  if (needs == PairNeeds::kHidden) return absl::OkStatus();
  if (a.num_hidden_layers != b.num_hidden_layers) {
    return differs("num_hidden_layers", a.num_hidden_layers, b.num_hidden_layers);
  }
  if (a.num_attention_heads != b.num_attention_heads ||
      a.num_key_value_heads != b.num_key_value_heads || a.head_dim != b.head_dim ||
      a.rope_theta != b.rope_theta || a.rope_scaling.type != b.rope_scaling.type ||
      a.sliding_window != b.sliding_window) {
    return absl::InvalidArgumentError(
        "baseline and candidate differ in attention geometry (heads, head_dim, RoPE or window)");
  }
  return absl::OkStatus();
}

absl::Status CheckTokenIds(const std::vector<int64_t>& ids, int64_t vocab_size,
                           absl::string_view what) {
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", id, " is outside the vocabulary [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace prunegate::probe
