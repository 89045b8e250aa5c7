// Batched inference helpers shared by the evaluator and the probes: last-position logits for many
// prompts, greedy continuations with stop rules, and pooled text embeddings. Prompts of different
// lengths run together (left-padded) in batches of `batch` sequences.
#ifndef PRUNEGATE_SERVER_EVAL_RUNNER_H_
#define PRUNEGATE_SERVER_EVAL_RUNNER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ATen/core/Tensor.h"
#include "absl/status/statusor.h"
#include "server/model/model.h"
#include "server/model/sampler.h"
#include "server/model/tokenizer.h"

namespace prunegate::eval {

struct Runner {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  int64_t batch = 8;
};

// Token ids of `text` as a prompt (the tokenizer's special tokens added, e.g. BOS).
// INVALID_ARGUMENT for text that encodes to nothing.
absl::StatusOr<std::vector<int64_t>> EncodePrompt(const Runner& runner, const std::string& text);

// Float32 logits after the last token of each prompt: (N, V) on CPU.
absl::StatusOr<at::Tensor> LastLogits(const Runner& runner,
                                      const std::vector<std::vector<int64_t>>& prompts);

struct Continuation {
  std::vector<int64_t> ids;  // generated ids, the stop token excluded
  std::string text;          // decoded `ids` (special tokens skipped)
};

// Greedy continuations of at most `max_new_tokens` tokens. A sequence stops at the model's or
// tokenizer's end-of-sequence token, and with `stop_at_newline` at the first token whose text
// contains a newline (the text is cut before the newline).
absl::StatusOr<std::vector<Continuation>> GreedyContinuations(
    const Runner& runner, const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
    bool stop_at_newline);

// Continuations sampled with `sampling` (temperature 0 = greedy, as above). Prompt i samples
// with seed sampling.seed + i, so two models given the same prompts draw the same random numbers
// (common random numbers: score differences are not sampling noise). INVALID_ARGUMENT for bad
// sampling options.
absl::StatusOr<std::vector<Continuation>> Continuations(
    const Runner& runner, const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
    bool stop_at_newline, const SamplingOptions& sampling);

enum class Pooling { kLastToken, kMean };
// One vector per text: the final hidden state (after the final norm) of the last token, or the
// mean over the text's tokens (special tokens such as BOS excluded). (N, H) float32 on CPU.
absl::StatusOr<at::Tensor> Embed(const Runner& runner, const std::vector<std::string>& texts,
                                 Pooling pooling);

}  // namespace prunegate::eval

#endif  // PRUNEGATE_SERVER_EVAL_RUNNER_H_
