#include "server/eval/runner.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/sampler.h"
#include "server/model/session.h"
#include "server/model/transformer.h"
#include "torch/torch.h"

namespace prunegate::eval {
namespace {

// Runs `fn(session, chunk)` over chunks of at most runner.batch prompts.
template <typename Fn>
absl::Status ForEachChunk(const Runner& runner, size_t n, Fn&& fn) {
  const size_t batch = static_cast<size_t>(std::max<int64_t>(1, runner.batch));
  for (size_t begin = 0; begin < n; begin += batch) {
    const size_t end = std::min(n, begin + batch);
    PG_ASSIGN_OR_RETURN(auto session, Session::Create(runner.model, end - begin));
    PG_RETURN_IF_ERROR(fn(*session, begin, end));
  }
  return absl::OkStatus();
}

std::set<int64_t> StopIds(const Runner& runner) {
  std::set<int64_t> stop(runner.model->config().eos_token_ids.begin(),
                         runner.model->config().eos_token_ids.end());
  if (runner.tokenizer->eos_id()) stop.insert(*runner.tokenizer->eos_id());
  return stop;
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> EncodePrompt(const Runner& runner, const std::string& text) {
  PG_ASSIGN_OR_RETURN(std::vector<int64_t> ids, runner.tokenizer->Encode(text, true));
  if (ids.empty()) return absl::InvalidArgumentError("empty prompt");
  return ids;
}

absl::StatusOr<at::Tensor> LastLogits(const Runner& runner,
                                      const std::vector<std::vector<int64_t>>& prompts) {
  c10::InferenceMode guard;
  std::vector<at::Tensor> parts;
  PG_RETURN_IF_ERROR(ForEachChunk(
      runner, prompts.size(), [&](Session& s, size_t begin, size_t end) -> absl::Status {
        std::vector<std::vector<int64_t>> chunk(prompts.begin() + begin, prompts.begin() + end);
        PG_ASSIGN_OR_RETURN(at::Tensor logits, s.Feed(chunk, LogitsMode::kLast));
        parts.push_back(logits.cpu());
        return absl::OkStatus();
      }));
  if (parts.empty()) return torch::empty({0, runner.model->config().vocab_size});
  return torch::cat(parts, 0);
}

absl::StatusOr<std::vector<Continuation>> GreedyContinuations(
    const Runner& runner, const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
    bool stop_at_newline) {
  return Continuations(runner, prompts, max_new_tokens, stop_at_newline, SamplingOptions());
}

absl::StatusOr<std::vector<Continuation>> Continuations(
    const Runner& runner, const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
    bool stop_at_newline, const SamplingOptions& sampling) {
  PG_RETURN_IF_ERROR(ValidateSamplingOptions(sampling));
  c10::InferenceMode guard;
  const std::set<int64_t> stop = StopIds(runner);
  const bool greedy = sampling.temperature == 0.0;
  std::vector<Continuation> out(prompts.size());
  PG_RETURN_IF_ERROR(ForEachChunk(
      runner, prompts.size(), [&](Session& s, size_t begin, size_t end) -> absl::Status {
        std::vector<std::vector<int64_t>> chunk(prompts.begin() + begin, prompts.begin() + end);
        PG_ASSIGN_OR_RETURN(at::Tensor logits, s.Feed(chunk, LogitsMode::kLast));
        const size_t b = end - begin;
        std::vector<Sampler> samplers;  // prompt i draws from seed + i under any model
        for (size_t i = 0; !greedy && i < b; ++i) {
          SamplingOptions o = sampling;
          o.seed = sampling.seed + begin + i;
          samplers.emplace_back(o);
        }
        std::vector<bool> done(b, false);
        for (int64_t step = 0; step < max_new_tokens; ++step) {
          std::vector<int64_t> ids(b);
          if (greedy) {
            at::Tensor next = logits.argmax(-1).cpu();
            for (size_t i = 0; i < b; ++i) ids[i] = next[i].item<int64_t>();
          } else {
            at::Tensor rows = logits.cpu();
            for (size_t i = 0; i < b; ++i) ids[i] = samplers[i].Sample(rows[i]);
          }
          bool all_done = true;
          for (size_t i = 0; i < b; ++i) {
            if (done[i]) continue;
            Continuation& c = out[begin + i];
            if (stop.count(ids[i])) {
              done[i] = true;
              continue;
            }
            c.ids.push_back(ids[i]);
            if (stop_at_newline) {
              PG_ASSIGN_OR_RETURN(std::string piece, runner.tokenizer->Decode({ids[i]}));
              if (piece.find('\n') != std::string::npos) done[i] = true;
            }
            all_done &= done[i];
          }
          if (all_done || step + 1 == max_new_tokens) break;
          PG_ASSIGN_OR_RETURN(logits, s.Step(ids));
        }
        return absl::OkStatus();
      }));
  for (Continuation& c : out) {
    PG_ASSIGN_OR_RETURN(c.text, runner.tokenizer->Decode(c.ids));
    if (stop_at_newline) c.text = c.text.substr(0, c.text.find('\n'));
  }
  return out;
}

absl::StatusOr<at::Tensor> Embed(const Runner& runner, const std::vector<std::string>& texts,
                                 Pooling pooling) {
  std::vector<std::vector<int64_t>> encoded;
  std::vector<int64_t> skip;  // leading special tokens (BOS) excluded from mean pooling
  for (const std::string& t : texts) {
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> ids, EncodePrompt(runner, t));
    const auto bos = runner.tokenizer->bos_id();
    skip.push_back(bos && ids.size() > 1 && ids[0] == *bos ? 1 : 0);
    encoded.push_back(std::move(ids));
  }
  c10::InferenceMode guard;
  std::vector<at::Tensor> parts;
  PG_RETURN_IF_ERROR(ForEachChunk(
      runner, encoded.size(), [&](Session& s, size_t begin, size_t end) -> absl::Status {
        std::vector<std::vector<int64_t>> chunk(encoded.begin() + begin, encoded.begin() + end);
        PG_RETURN_IF_ERROR(s.Feed(chunk, LogitsMode::kNone).status());
        at::Tensor h =
            Transformer::FinalNorm(*runner.model, s.last_hidden()).to(torch::kFloat).cpu();
        const int64_t len = h.size(1);
        for (size_t i = 0; i < chunk.size(); ++i) {
          if (pooling == Pooling::kLastToken) {
            parts.push_back(h[i][len - 1]);
            continue;
          }
          // Left padding: the sequence occupies the last n slots.
          const int64_t n = static_cast<int64_t>(chunk[i].size()) - skip[begin + i];
          parts.push_back(h[i].narrow(0, len - n, n).mean(0));
        }
        return absl::OkStatus();
      }));
  if (parts.empty()) return torch::empty({0, runner.model->config().hidden_size});
  return torch::stack(parts, 0);
}

}  // namespace prunegate::eval
