#include "server/verdict/assess.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/eval/runner.h"
#include "server/probe/choice_probe.h"
#include "server/probe/decode_trace.h"
#include "server/probe/embedding_probe.h"
#include "server/probe/pair_check.h"
#include "server/probe/stats.h"

namespace prunegate::verdict {
namespace {

using ProgressFn = std::function<void(const AssessProgress&)>;
using CancelledFn = std::function<bool()>;

// What every task's run needs.
struct Run {
  const eval::Runner& a;
  const eval::Runner& b;
  const AssessOptions& options;
  const ProgressFn& progress;
  const CancelledFn& cancelled;

  absl::Status CheckCancelled() const {
    if (cancelled && cancelled()) return absl::CancelledError("assessment cancelled");
    return absl::OkStatus();
  }
  void Report(AssessProgress* p) const {
    ++p->done;
    if (progress) progress(*p);
  }
};

absl::Status InContext(const absl::Status& status, const std::string& where) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
}

absl::Status CheckPair(const eval::Runner& a, const eval::Runner& b) {
  if (!a.model || !b.model || !a.tokenizer || !b.tokenizer) {
    return absl::InvalidArgumentError("both runners need a model and a tokenizer");
  }
  // Hidden states are compared too (decode traces, pooled embeddings).
  PG_RETURN_IF_ERROR(
      probe::CheckPair(a.model->config(), b.model->config(), probe::PairNeeds::kHidden));
  if (a.tokenizer->vocab_size() != b.tokenizer->vocab_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("baseline and candidate tokenizers differ: ", a.tokenizer->vocab_size(),
                     " vs ", b.tokenizer->vocab_size(), " tokens"));
  }
  return absl::OkStatus();
}

// The tokenizer's EOS and the model config's end-of-sequence ids, and with `newline` every token
// whose text contains a newline.
std::vector<int64_t> StopIds(const eval::Runner& r, bool newline) {
  std::vector<int64_t> ids = r.model->config().eos_token_ids;
  if (auto eos = r.tokenizer->eos_id()) ids.push_back(*eos);
  const int64_t vocab = std::min<int64_t>(r.tokenizer->vocab_size(), r.model->config().vocab_size);
  for (int64_t id = 0; newline && id < vocab; ++id) {
    auto text = r.tokenizer->Decode({id}, /*skip_special_tokens=*/false);
    if (text.ok() && text->find('\n') != std::string::npos) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

PromptOutcome Reduce(const probe::TraceResult& trace) {
  PromptOutcome o;
  o.first_divergence = trace.first_divergence;
  for (const probe::TraceStep& s : trace.steps) {
    ++o.steps;
    o.agreeing_steps += s.agree;
    if (trace.first_divergence >= 0 && s.step > trace.first_divergence) continue;
    ++o.shared_steps;
    o.kl_sum += s.stats.probs[0].kl;
    o.kl_pred_sum += s.stats.probs[0].kl_pred;
  }
  return o;
}

absl::Status RunGeneration(const Run& run, const std::vector<tasks::GenerationItem>& items,
                           Assessment* out) {
  const GenerationPolicy& policy = run.options.policy.generation;
  size_t n = items.size();
  if (policy.max_prompts > 0) n = std::min<size_t>(n, policy.max_prompts);
  if (n == 0) return absl::InvalidArgumentError("generation needs at least one prompt");
  std::vector<std::vector<int64_t>> prompts;
  for (size_t i = 0; i < n; ++i) {
    auto ids = eval::EncodePrompt(run.a, items[i].prompt);
    PG_RETURN_IF_ERROR(InContext(ids.status(), absl::StrCat("prompt ", i)));
    prompts.push_back(*std::move(ids));
  }
  probe::TraceOptions trace;
  trace.mode = probe::TraceMode::kFree;
  trace.max_steps = run.options.max_steps > 0 ? run.options.max_steps : policy.max_steps;
  trace.stop_ids = StopIds(run.a, policy.stop_at_newline);
  const uint64_t seed = run.options.seed != 0 ? run.options.seed : policy.seed;
  AssessProgress progress{"generation", 0,
                          static_cast<int64_t>(n * run.options.temperatures.size())};
  for (double t : run.options.temperatures) {
    progress.temperature = t;
    trace.sampling.temperature = t;
    trace.temperatures = {t};
    std::vector<PromptOutcome> outcomes;
    for (size_t i = 0; i < n; ++i) {
      PG_RETURN_IF_ERROR(run.CheckCancelled());
      trace.sampling.seed = seed + i;
      auto result =
          probe::TraceDecode(run.a.model, run.b.model, prompts[i], trace, {}, run.cancelled);
      PG_RETURN_IF_ERROR(InContext(result.status(), absl::StrCat("prompt ", i)));
      outcomes.push_back(Reduce(*result));
      run.Report(&progress);
    }
    out->generation.push_back(SummarizeGeneration(t, trace.max_steps, outcomes));
  }
  return absl::OkStatus();
}

absl::Status RunChoices(const Run& run, const std::vector<tasks::MultipleChoiceItem>& items,
                        Assessment* out) {
  if (items.empty()) return absl::InvalidArgumentError("no multiple-choice items");
  const std::vector<double>& temperatures = run.options.temperatures;
  int64_t labelled = 0, correct_a = 0, correct_b = 0, agreeing = 0;
  std::vector<double> kl_sum(temperatures.size(), 0.0);
  AssessProgress progress{"multiple_choice", 0, static_cast<int64_t>(items.size())};
  for (const tasks::MultipleChoiceItem& item : items) {
    PG_RETURN_IF_ERROR(run.CheckCancelled());
    auto summary = probe::ProbeChoices(run.a, run.b, {item}, temperatures);
    PG_RETURN_IF_ERROR(InContext(summary.status(), absl::StrCat("item ", item.info.id)));
    const probe::ChoiceItemResult& r = summary->results.at(0);
    if (r.label >= 0) {
      ++labelled;
      correct_a += r.correct_a;
      correct_b += r.correct_b;
    }
    agreeing += r.subspace.at(0).argmax_agree;  // argmax does not depend on T
    for (size_t t = 0; t < temperatures.size(); ++t) kl_sum[t] += r.subspace.at(t).kl;
    run.Report(&progress);
  }
  const auto count = static_cast<int64_t>(items.size());
  for (size_t t = 0; t < temperatures.size(); ++t) {
    ChoiceEvidence e;
    e.temperature = temperatures[t];
    e.items = count;
    e.labelled = labelled;
    if (labelled > 0) {
      e.accuracy_a = static_cast<double>(correct_a) / labelled;
      e.accuracy_b = static_cast<double>(correct_b) / labelled;
    }
    e.argmax_agreeing = agreeing;
    e.argmax_agreement = static_cast<double>(agreeing) / count;
    e.mean_kl = kl_sum[t] / count;
    out->multiple_choice.push_back(e);
  }
  return absl::OkStatus();
}

absl::Status RunRetrieval(const Run& run, const std::vector<tasks::RetrievalItem>& sets,
                          Assessment* out) {
  if (sets.empty()) return absl::InvalidArgumentError("no retrieval sets");
  RetrievalEvidence e;
  e.top_k = run.options.policy.retrieval.top_k;
  double cosine_sum = 0, recall_a = 0, recall_b = 0, overlap = 0, tau = 0;
  AssessProgress progress{"retrieval", 0, static_cast<int64_t>(sets.size())};
  for (const tasks::RetrievalItem& set : sets) {
    PG_RETURN_IF_ERROR(run.CheckCancelled());
    std::vector<std::string> texts;
    for (const auto& d : set.documents) texts.push_back(d.text);
    for (const auto& q : set.queries) texts.push_back(q.text);
    auto s = probe::ProbeEmbeddings(run.a, run.b, texts, {set}, eval::Pooling::kMean, e.top_k);
    PG_RETURN_IF_ERROR(InContext(s.status(), absl::StrCat("retrieval set ", set.info.id)));
    ++e.sets;
    e.texts += static_cast<int64_t>(s->text_cosine.size());
    for (double c : s->text_cosine) cosine_sum += c;
    e.queries += s->queries;
    recall_a += s->recall_at_1_a * s->queries;
    recall_b += s->recall_at_1_b * s->queries;
    overlap += s->mean_topk_overlap * s->queries;
    tau += s->mean_kendall_tau * s->queries;
    run.Report(&progress);
  }
  if (e.texts > 0) e.mean_cosine = cosine_sum / e.texts;
  if (e.queries > 0) {
    e.recall_at_1_a = recall_a / e.queries;
    e.recall_at_1_b = recall_b / e.queries;
    e.mean_topk_overlap = overlap / e.queries;
    e.mean_kendall_tau = tau / e.queries;
  }
  for (double t : run.options.temperatures) {
    e.temperature = t;
    out->retrieval.push_back(e);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Assessment> Assess(const eval::Runner& baseline, const eval::Runner& candidate,
                                  const tasks::TaskSuite& items, const AssessOptions& options,
                                  const std::function<void(const AssessProgress&)>& progress,
                                  const std::function<bool()>& cancelled) {
  PG_RETURN_IF_ERROR(probe::ValidateTemperatures(options.temperatures));
  PG_RETURN_IF_ERROR(ValidatePolicy(options.policy));
  if (options.max_steps < 0) return absl::InvalidArgumentError("max_steps must be >= 0");
  PG_RETURN_IF_ERROR(CheckPair(baseline, candidate));
  const Run run{baseline, candidate, options, progress, cancelled};
  Assessment assessment;
  assessment.task = options.task;
  switch (options.task) {
    case TaskType::kGeneration:
      PG_RETURN_IF_ERROR(RunGeneration(run, items.generation, &assessment));
      break;
    case TaskType::kMultipleChoice:
      PG_RETURN_IF_ERROR(RunChoices(run, items.multiple_choice, &assessment));
      break;
    case TaskType::kRetrieval:
      PG_RETURN_IF_ERROR(RunRetrieval(run, items.retrieval, &assessment));
      break;
  }
  PG_RETURN_IF_ERROR(run.CheckCancelled());  // cancelled during the last prompt, item or set
  JudgeAll(options.policy, &assessment);
  return assessment;
}

}  // namespace prunegate::verdict
