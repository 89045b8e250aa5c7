#include "server/eval/evaluator.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "torch/torch.h"

namespace prunegate::eval {
namespace {

std::string Where(const tasks::ItemInfo& info) {
  return info.origin.empty() ? absl::StrCat("item ", info.id)
                             : absl::StrCat("item ", info.id, " (", info.origin, ")");
}

absl::Status EvaluateGeneration(const Runner& runner, const tasks::TaskSuite& suite,
                                const EvalOptions& options, EvalReport* report) {
  // Group by max_new_tokens so each group decodes in batches.
  std::map<int64_t, std::vector<const tasks::GenerationItem*>> exact, agree;
  for (const auto& item : suite.generation) {
    const int64_t limit = item.max_new_tokens.value_or(options.max_new_tokens);
    if (item.scoring == tasks::Scoring::kExactMatch) {
      exact[limit].push_back(&item);
    } else if (options.baseline) {
      agree[limit].push_back(&item);
    } else {
      ++report->agreement_skipped;
    }
  }
  auto encode_all = [&](const std::vector<const tasks::GenerationItem*>& items)
      -> absl::StatusOr<std::vector<std::vector<int64_t>>> {
    std::vector<std::vector<int64_t>> prompts;
    for (const auto* item : items) {
      auto ids = EncodePrompt(runner, item->prompt);
      if (!ids.ok())
        return absl::InvalidArgumentError(
            absl::StrCat(Where(item->info), ": ", ids.status().message()));
      prompts.push_back(*std::move(ids));
    }
    return prompts;
  };
  std::map<std::string, int> kept;
  for (const auto& [limit, items] : exact) {
    PG_ASSIGN_OR_RETURN(auto prompts, encode_all(items));
    PG_ASSIGN_OR_RETURN(auto outs,
                        Continuations(runner, prompts, limit, true, options.sampling));
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& item = *items[i];
      const bool ok = ExactMatch(outs[i].text, *item.reference);
      Score& s = report->generation_by_task[item.info.task];
      s.correct += ok;
      ++s.n;
      if (kept[item.info.task]++ < options.samples_per_task) {
        report->samples.push_back(
            {item.info.task, item.info.id, item.prompt, *item.reference, outs[i].text, ok});
      }
    }
  }
  for (const auto& [limit, items] : agree) {
    PG_ASSIGN_OR_RETURN(auto prompts, encode_all(items));
    PG_ASSIGN_OR_RETURN(auto outs, GreedyContinuations(runner, prompts, limit, false));
    Runner base = runner;
    base.model = options.baseline;
    PG_ASSIGN_OR_RETURN(auto refs, GreedyContinuations(base, prompts, limit, false));
    for (size_t i = 0; i < items.size(); ++i) {
      Agreement& a = report->agreement_by_task[items[i]->info.task];
      const auto& want = refs[i].ids;
      const auto& got = outs[i].ids;
      int64_t same = 0;
      for (size_t k = 0; k < want.size() && k < got.size(); ++k) same += want[k] == got[k];
      ++a.n;
      a.identical += want == got;
      a.token_agreement_sum +=
          want.empty() ? (got.empty() ? 1.0 : 0.0) : static_cast<double>(same) / want.size();
    }
  }
  const auto it = report->generation_by_task.find("knowledge_gen");
  if (it != report->generation_by_task.end()) {
    report->generation = it->second;
  } else {
    for (const auto& [task, s] : report->generation_by_task) {
      report->generation.correct += s.correct;
      report->generation.n += s.n;
    }
  }
  return absl::OkStatus();
}

absl::Status EvaluateChoices(const Runner& runner, const tasks::TaskSuite& suite,
                             EvalReport* report) {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::vector<int64_t>> option_ids;
  for (const auto& item : suite.multiple_choice) {
    auto ids = EncodePrompt(runner, item.prompt);
    if (!ids.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(Where(item.info), ": ", ids.status().message()));
    prompts.push_back(*std::move(ids));
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> opts, OptionTokenIds(*runner.tokenizer, item));
    option_ids.push_back(std::move(opts));
  }
  PG_ASSIGN_OR_RETURN(at::Tensor logits, LastLogits(runner, prompts));
  for (size_t i = 0; i < suite.multiple_choice.size(); ++i) {
    const auto& item = suite.multiple_choice[i];
    if (!item.label) continue;  // unlabelled items only matter to baseline comparisons
    at::Tensor scores = logits[i].index_select(0, torch::tensor(option_ids[i], torch::kLong));
    const int64_t predicted = scores.argmax().item<int64_t>();
    Score& s = report->choice_by_task[item.info.task];
    s.correct += predicted == *item.label;
    ++s.n;
    report->choice.correct += predicted == *item.label;
    ++report->choice.n;
  }
  return absl::OkStatus();
}

absl::Status EvaluateRetrieval(const Runner& runner, const tasks::TaskSuite& suite,
                               const EvalOptions& options, EvalReport* report) {
  double rr_sum = 0;
  for (const auto& item : suite.retrieval) {
    std::vector<std::string> docs, queries;
    for (const auto& d : item.documents) docs.push_back(d.text);
    for (const auto& q : item.queries) queries.push_back(q.text);
    PG_ASSIGN_OR_RETURN(at::Tensor d, Embed(runner, docs, options.pooling));
    PG_ASSIGN_OR_RETURN(at::Tensor q, Embed(runner, queries, options.pooling));
    at::Tensor sim = torch::matmul(
        torch::nn::functional::normalize(q, torch::nn::functional::NormalizeFuncOptions().dim(1)),
        torch::nn::functional::normalize(d, torch::nn::functional::NormalizeFuncOptions().dim(1))
            .t());
    at::Tensor order = sim.argsort(1, /*descending=*/true);
    for (size_t qi = 0; qi < item.queries.size(); ++qi) {
      const auto& relevant = item.queries[qi].relevant;
      int64_t rank = 0;
      for (int64_t r = 0; r < order.size(1); ++r) {
        const std::string& id = item.documents[order[qi][r].item<int64_t>()].id;
        if (std::find(relevant.begin(), relevant.end(), id) != relevant.end()) {
          rank = r + 1;
          break;
        }
      }
      Score& s = report->retrieval_by_task[item.info.task];
      s.correct += rank == 1;
      ++s.n;
      report->retrieval.correct += rank == 1;
      ++report->retrieval.n;
      rr_sum += rank > 0 ? 1.0 / rank : 0.0;
    }
  }
  report->retrieval_mrr = report->retrieval.n > 0 ? rr_sum / report->retrieval.n : 0.0;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> OptionTokenIds(const Tokenizer& tokenizer,
                                                    const tasks::MultipleChoiceItem& item) {
  std::vector<int64_t> ids;
  for (const std::string& option : item.options) {
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> t, tokenizer.Encode(option, false));
    if (t.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(item.info), ": option \"", option, "\" is ", t.size(),
          " tokens for this tokenizer; multiple-choice options must be single tokens"));
    }
    ids.push_back(t[0]);
  }
  return ids;
}

bool ExactMatch(const std::string& output, const std::string& reference) {
  return absl::StripAsciiWhitespace(output) == absl::StripAsciiWhitespace(reference);
}

absl::StatusOr<EvalReport> Evaluate(const Runner& runner, const tasks::TaskSuite& suite,
                                    const EvalOptions& options) {
  EvalReport report;
  report.temperature = options.sampling.temperature;
  PG_RETURN_IF_ERROR(EvaluateGeneration(runner, suite, options, &report));
  PG_RETURN_IF_ERROR(EvaluateChoices(runner, suite, &report));
  PG_RETURN_IF_ERROR(EvaluateRetrieval(runner, suite, options, &report));
  return report;
}

std::string ReportJson(const EvalReport& r) {
  using nlohmann::json;
  json gen_tasks = json::object(), mc_tasks = json::object(), ret_tasks = json::object(),
       agree = json::object();
  for (const auto& [t, s] : r.generation_by_task) {
    gen_tasks[t] = {{"exact_match", s.rate()}, {"correct", s.correct}, {"n", s.n}};
  }
  for (const auto& [t, a] : r.agreement_by_task) {
    agree[t] = {{"token_agreement", a.token_agreement()}, {"identical", a.identical}, {"n", a.n}};
  }
  for (const auto& [t, s] : r.choice_by_task) {
    mc_tasks[t] = {{"accuracy", s.rate()}, {"correct", s.correct}, {"n", s.n}};
  }
  for (const auto& [t, s] : r.retrieval_by_task) {
    ret_tasks[t] = {{"recall_at_1", s.rate()}, {"n", s.n}};
  }
  json j = {
      {"generation",
       {{"exact_match", r.generation.rate()},
        {"n", r.generation.n},
        {"temperature", r.temperature},
        {"tasks", gen_tasks},
        {"baseline_agreement", agree},
        {"baseline_agreement_skipped", r.agreement_skipped}}},
      {"multiple_choice", {{"accuracy", r.choice.rate()}, {"n", r.choice.n}, {"tasks", mc_tasks}}},
      {"retrieval",
       {{"recall_at_1", r.retrieval.rate()},
        {"mrr", r.retrieval_mrr},
        {"n", r.retrieval.n},
        {"tasks", ret_tasks}}}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ReportText(const EvalReport& r) {
  std::string out;
  auto line = [&](const std::string& what, const Score& s) {
    absl::StrAppendFormat(&out, "  %-28s %6.1f%%  (%d/%d)\n", what, 100 * s.rate(), s.correct, s.n);
  };
  out += "generation (exact match):\n";
  for (const auto& [t, s] : r.generation_by_task) line(t, s);
  for (const auto& [t, a] : r.agreement_by_task) {
    absl::StrAppendFormat(&out, "  %-28s %6.1f%% token agreement, %d/%d identical\n", t,
                          100 * a.token_agreement(), a.identical, a.n);
  }
  if (r.agreement_skipped > 0) {
    absl::StrAppendFormat(&out, "  (%d baseline-agreement items skipped: no --baseline)\n",
                          r.agreement_skipped);
  }
  out += "multiple choice (accuracy):\n";
  for (const auto& [t, s] : r.choice_by_task) line(t, s);
  out += "retrieval (recall@1):\n";
  for (const auto& [t, s] : r.retrieval_by_task) line(t, s);
  if (r.retrieval.n > 0) absl::StrAppendFormat(&out, "  MRR %.3f\n", r.retrieval_mrr);
  if (!r.samples.empty()) out += "samples:\n";
  for (const Sample& s : r.samples) {
    absl::StrAppendFormat(&out,
                          "  [%s] %s\n    prompt:    %s\n    reference: %s\n    output:    %s\n",
                          s.correct ? "ok" : "MISS", s.id, s.prompt, s.reference, s.output);
  }
  return out;
}

}  // namespace prunegate::eval
