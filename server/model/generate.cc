#include "server/model/generate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/session.h"
#include "torch/torch.h"

namespace prunegate {

absl::StatusOr<GenerateResult> Generate(std::shared_ptr<const Model> model,
                                        const std::vector<int64_t>& prompt,
                                        const GenerateOptions& options) {
  PG_RETURN_IF_ERROR(ValidateSamplingOptions(options.sampling));
  if (prompt.empty()) return absl::InvalidArgumentError("empty prompt");
  if (options.max_new_tokens < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens must be >= 0, got ", options.max_new_tokens));
  }
  const int64_t limit = model->config().max_position_embeddings;
  if (static_cast<int64_t>(prompt.size()) + options.max_new_tokens > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt (", prompt.size(), " tokens) + max_new_tokens (",
                     options.max_new_tokens, ") exceeds max_position_embeddings ", limit));
  }
  PG_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(model, 1));
  Sampler sampler(options.sampling);
  c10::InferenceMode guard;

  GenerateResult result;
  result.prompt_ids = prompt;
  const int64_t n_prompt = prompt.size();
  if (options.keep_logits) {
    result.logits = torch::empty({n_prompt + options.max_new_tokens, model->config().vocab_size},
                                 torch::kFloat);
  }
  PG_ASSIGN_OR_RETURN(
      at::Tensor logits,
      session->Feed({prompt}, options.keep_logits ? LogitsMode::kAll : LogitsMode::kLast));
  if (options.keep_logits) {
    result.logits.narrow(0, 0, n_prompt).copy_(logits[0]);
    logits = logits[0][n_prompt - 1];
  } else {
    logits = logits[0];
  }
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    const int64_t id = sampler.Sample(logits);
    result.generated_ids.push_back(id);
    const bool stop_id =
        std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end();
    const bool go_on = options.on_token ? options.on_token(id) : true;
    const bool last = step + 1 == options.max_new_tokens || stop_id || !go_on;
    result.stopped = stop_id || !go_on;
    if (last && !options.keep_logits) break;
    PG_ASSIGN_OR_RETURN(at::Tensor next, session->Step({id}));
    logits = next[0];
    if (options.keep_logits) result.logits[n_prompt + step].copy_(logits);
    if (last) break;
  }
  if (options.keep_logits) {
    result.logits = result.logits.narrow(0, 0, n_prompt + result.generated_ids.size());
  }
  return result;
}

}  // namespace prunegate
