// Autoregressive generation for one sequence: prefill, then sample token by token.
#ifndef PRUNEGATE_SERVER_MODEL_GENERATE_H_
#define PRUNEGATE_SERVER_MODEL_GENERATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "server/model/model.h"
#include "server/model/sampler.h"

namespace prunegate {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  SamplingOptions sampling;
  // Stop after emitting one of these ids (the token is kept). Empty = never stop early.
  std::vector<int64_t> stop_ids;
  // Keep float32 logits for every position of prompt + generated (row t = logits after
  // ids[0..t]); costs one extra forward for the last generated token.
  bool keep_logits = false;
  // Called with each generated id as it is produced; return false to stop.
  std::function<bool(int64_t)> on_token;
};

struct GenerateResult {
  std::vector<int64_t> prompt_ids;
  std::vector<int64_t> generated_ids;
  bool stopped = false;  // a stop id (or on_token) ended generation before max_new_tokens
  at::Tensor logits;     // (n_positions, V) float32 on CPU when keep_logits
};

// INVALID_ARGUMENT for an empty prompt, ids out of range, bad sampling options, or a total
// length beyond max_position_embeddings.
absl::StatusOr<GenerateResult> Generate(std::shared_ptr<const Model> model,
                                        const std::vector<int64_t>& prompt,
                                        const GenerateOptions& options);

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_GENERATE_H_
