// Decode trace (paper Fig. 7): baseline and candidate decode in lockstep and every step is
// compared in logit and probability space.
//   kFree:    each model samples its own next token (same seed, same sampler) and feeds it back:
//             the paper's setting, where errors compound once the texts diverge.
//   kTeacher: both models are fed the same tokens (the baseline's own choices, or a given
//             reference), isolating the per-step error from the accumulated one.
#ifndef PRUNEGATE_SERVER_PROBE_DECODE_TRACE_H_
#define PRUNEGATE_SERVER_PROBE_DECODE_TRACE_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/model.h"
#include "server/model/sampler.h"
#include "server/probe/stats.h"

namespace prunegate::probe {

enum class TraceMode { kFree, kTeacher };

struct TraceOptions {
  TraceMode mode = TraceMode::kFree;
  int64_t max_steps = 64;
  SamplingOptions sampling;                  // how each model picks tokens (greedy by default)
  std::vector<double> temperatures = {1.0};  // statistics temperatures
  int64_t top_k = 10;
  // kTeacher: tokens to feed; empty = the baseline's own choices. Ignored in kFree.
  std::vector<int64_t> reference_ids;
  // A model that emits one stops. kFree: from then on its token_a/b is that stop token (it is
  // fed it, so the other model can go on) and the trace ends when both have stopped; kTeacher:
  // the trace ends when the fed token is one.
  std::vector<int64_t> stop_ids;
};

struct TraceStep {
  int64_t step = 0;
  int64_t position = 0;              // position of the token predicted at this step
  int64_t token_a = 0, token_b = 0;  // each model's own choice at this step
  bool agree = false;
  // z_a vs z_b at this step. probs[].dp_ref is the Δp, q(t) - p(t), of the token t the baseline
  // is fed next: kTeacher the token both models are fed (the reference's, or the baseline's own
  // choice), kFree the baseline's sampled token (token_a).
  RowStats stats;
  VectorStats hidden;  // final hidden states (after the final norm)
};

struct TraceResult {
  std::vector<TraceStep> steps;
  // What each model emitted (kFree) or chose (kTeacher), up to and including its stop token.
  std::vector<int64_t> tokens_a, tokens_b;
  int64_t first_divergence = -1;  // first step with token_a != token_b, -1 if none
};

// INVALID_ARGUMENT for a mismatched pair (vocabulary, hidden size), an empty prompt, ids out of
// range, bad options, or a length beyond max_position_embeddings. `on_step` (optional) sees each
// step as it is produced and may return false to stop; `cancelled` is polled every step
// (CANCELLED).
absl::StatusOr<TraceResult> TraceDecode(std::shared_ptr<const Model> baseline,
                                        std::shared_ptr<const Model> candidate,
                                        const std::vector<int64_t>& prompt,
                                        const TraceOptions& options,
                                        const std::function<bool(const TraceStep&)>& on_step = {},
                                        const std::function<bool()>& cancelled = {});

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_DECODE_TRACE_H_
