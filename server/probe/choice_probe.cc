#include "server/probe/choice_probe.h"

#include "server/common/status_macros.h"
#include "server/eval/evaluator.h"
#include "server/probe/pair_check.h"
#include "torch/torch.h"

namespace prunegate::probe {

absl::StatusOr<ChoiceSummary> ProbeChoices(const eval::Runner& a, const eval::Runner& b,
                                           const std::vector<tasks::MultipleChoiceItem>& items,
                                           const std::vector<double>& temperatures) {
  if (items.empty()) return absl::InvalidArgumentError("no multiple-choice items");
  PG_RETURN_IF_ERROR(ValidateTemperatures(temperatures));
  PG_RETURN_IF_ERROR(CheckPair(a.model->config(), b.model->config(), PairNeeds::kVocabulary));
  std::vector<std::vector<int64_t>> prompts, options;
  for (const auto& item : items) {
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> ids, eval::EncodePrompt(a, item.prompt));
    prompts.push_back(std::move(ids));
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> opts, eval::OptionTokenIds(*a.tokenizer, item));
    options.push_back(std::move(opts));
  }
  PG_ASSIGN_OR_RETURN(at::Tensor za, eval::LastLogits(a, prompts));
  PG_ASSIGN_OR_RETURN(at::Tensor zb, eval::LastLogits(b, prompts));
  ChoiceSummary s;
  s.items = items.size();
  s.mean_kl.assign(temperatures.size(), 0.0);
  int64_t agree = 0, correct_a = 0, correct_b = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    ChoiceItemResult r;
    r.id = items[i].info.id;
    PG_ASSIGN_OR_RETURN(r.subspace, CompareSubspace(za[i], zb[i], options[i], temperatures));
    const SubspaceStats& first = r.subspace.front();  // argmax does not depend on T
    agree += first.argmax_agree;
    for (size_t t = 0; t < temperatures.size(); ++t)
      s.mean_kl[t] += r.subspace[t].kl / items.size();
    if (items[i].label) {
      r.label = *items[i].label;
      r.correct_a = first.argmax_a == r.label;
      r.correct_b = first.argmax_b == r.label;
      ++s.labelled;
      correct_a += r.correct_a;
      correct_b += r.correct_b;
    }
    s.results.push_back(std::move(r));
  }
  s.argmax_agreement = static_cast<double>(agree) / s.items;
  if (s.labelled > 0) {
    s.accuracy_a = static_cast<double>(correct_a) / s.labelled;
    s.accuracy_b = static_cast<double>(correct_b) / s.labelled;
  }
  return s;
}

}  // namespace prunegate::probe
