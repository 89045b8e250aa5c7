#include "server/probe/decode_trace.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/session.h"
#include "server/model/transformer.h"
#include "server/probe/pair_check.h"
#include "torch/torch.h"

namespace prunegate::probe {

absl::StatusOr<TraceResult> TraceDecode(std::shared_ptr<const Model> baseline,
                                        std::shared_ptr<const Model> candidate,
                                        const std::vector<int64_t>& prompt,
                                        const TraceOptions& options,
                                        const std::function<bool(const TraceStep&)>& on_step,
                                        const std::function<bool()>& cancelled) {
  const ModelConfig& ca = baseline->config();
  const ModelConfig& cb = candidate->config();
  PG_RETURN_IF_ERROR(CheckPair(ca, cb, PairNeeds::kHidden));
  if (prompt.empty()) return absl::InvalidArgumentError("empty prompt");
  PG_RETURN_IF_ERROR(CheckTokenIds(prompt, ca.vocab_size, "prompt id"));
  PG_RETURN_IF_ERROR(ValidateSamplingOptions(options.sampling));
  PG_RETURN_IF_ERROR(ValidateTemperatures(options.temperatures));
  if (options.max_steps < 1) return absl::InvalidArgumentError("max_steps must be >= 1");
  const bool teacher = options.mode == TraceMode::kTeacher;
  const std::vector<int64_t>& ref = options.reference_ids;
  PG_RETURN_IF_ERROR(CheckTokenIds(ref, ca.vocab_size, "reference id"));
  const int64_t steps = teacher && !ref.empty() ? std::min<int64_t>(options.max_steps, ref.size())
                                                : options.max_steps;
  const int64_t limit = std::min(ca.max_position_embeddings, cb.max_position_embeddings);
  if (static_cast<int64_t>(prompt.size()) + steps > limit) {
    return absl::InvalidArgumentError(absl::StrCat("prompt (", prompt.size(), ") + ", steps,
                                                   " steps exceeds max_position_embeddings ",
                                                   limit));
  }
  PG_ASSIGN_OR_RETURN(auto sa, Session::Create(baseline));
  PG_ASSIGN_OR_RETURN(auto sb, Session::Create(candidate));
  Sampler pick_a(options.sampling), pick_b(options.sampling);
  CompareOptions co;
  co.temperatures = options.temperatures;
  co.top_k = std::min<int64_t>(options.top_k, ca.vocab_size);
  co.reference_ids.assign(1, 0);  // the step's reference token, set below
  auto is_stop = [&](int64_t id) {
    return std::find(options.stop_ids.begin(), options.stop_ids.end(), id) !=
           options.stop_ids.end();
  };

  c10::InferenceMode guard;
  PG_ASSIGN_OR_RETURN(at::Tensor za, sa->Feed({prompt}));
  PG_ASSIGN_OR_RETURN(at::Tensor zb, sb->Feed({prompt}));
  TraceResult result;
  // A model that has stopped (free mode) emits and is fed its stop token from then on, so its
  // text ends there and the other model can go on; tokens_a/b keep only what came before.
  std::optional<int64_t> stop_a, stop_b;
  for (int64_t step = 0; step < steps; ++step) {
    if (cancelled && cancelled()) return absl::CancelledError("decode trace cancelled");
    TraceStep t;
    t.step = step;
    t.position = static_cast<int64_t>(prompt.size()) + step;
    t.token_a = stop_a ? *stop_a : pick_a.Sample(za[0]);
    t.token_b = stop_b ? *stop_b : pick_b.Sample(zb[0]);
    t.agree = t.token_a == t.token_b;
    // The token the baseline consumes next: the reference text's, else its own choice.
    const int64_t ref_token = teacher && !ref.empty() ? ref[step] : t.token_a;
    co.reference_ids[0] = ref_token;
    PG_ASSIGN_OR_RETURN(auto rows, CompareLogits(za, zb, co));
    t.stats = std::move(rows[0]);
    at::Tensor ha = Transformer::FinalNorm(*baseline, sa->last_hidden().select(1, -1));
    at::Tensor hb = Transformer::FinalNorm(*candidate, sb->last_hidden().select(1, -1));
    PG_ASSIGN_OR_RETURN(auto hv, CompareVectors(ha, hb));
    t.hidden = hv[0];
    if (!t.agree && result.first_divergence < 0) result.first_divergence = step;
    if (!stop_a) result.tokens_a.push_back(t.token_a);
    if (!stop_b) result.tokens_b.push_back(t.token_b);
    const bool go_on = on_step ? on_step(t) : true;
    result.steps.push_back(std::move(t));
    const TraceStep& done = result.steps.back();
    int64_t feed_a = done.token_a, feed_b = done.token_b;
    if (teacher) feed_a = feed_b = ref_token;
    if (!stop_a && is_stop(feed_a)) stop_a = feed_a;
    if (!stop_b && is_stop(feed_b)) stop_b = feed_b;
    const bool finished = teacher ? stop_a.has_value() : (stop_a && stop_b);
    if (!go_on || finished || step + 1 == steps) break;
    PG_ASSIGN_OR_RETURN(za, sa->Step({feed_a}));
    PG_ASSIGN_OR_RETURN(zb, sb->Step({feed_b}));
  }
  return result;
}

}  // namespace prunegate::probe
