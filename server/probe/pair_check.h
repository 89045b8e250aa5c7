// Input checks shared by the probes: whether a baseline and a candidate can be compared, and
// whether token ids lie inside the vocabulary. Torch-free.
#ifndef PRUNEGATE_SERVER_PROBE_PAIR_CHECK_H_
#define PRUNEGATE_SERVER_PROBE_PAIR_CHECK_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/model/config.h"

namespace prunegate::probe {

// What a probe needs the two models to have in common; each level includes the ones above it.
enum class PairNeeds {
  kVocabulary,  // logits over the same tokens (KL summary, choice probe)
  kHidden,      // also the hidden size (decode trace: final hidden states are compared)
  kLayout,      // also the layer count and attention geometry (layer probe: layer by layer)
};

// INVALID_ARGUMENT "baseline and candidate differ in vocab_size: A vs B" (likewise hidden_size,
// num_hidden_layers), or "... differ in attention geometry (heads, head_dim, RoPE or window)".
absl::Status CheckPair(const ModelConfig& baseline, const ModelConfig& candidate, PairNeeds needs);

// INVALID_ARGUMENT "<what> <id> is outside the vocabulary [0, <vocab_size>)" for the first id
// outside the vocabulary.
absl::Status CheckTokenIds(const std::vector<int64_t>& ids, int64_t vocab_size,
                           absl::string_view what = "token id");

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_PAIR_CHECK_H_
