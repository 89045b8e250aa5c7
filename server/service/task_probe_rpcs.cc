// The task probes: ProbeChoices (a ChoiceResult per item, then a ChoiceSummary), ProbeEmbeddings
// (a TextCosine per text, then an EmbeddingSummary) and SummarizeKl (Progress per window, then
// the KlSummary). Items run in chunks so that results stream while the rest is computed and a
// cancelled call stops after the current chunk.
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/eval/runner.h"
#include "server/model/model.h"
#include "server/probe/choice_probe.h"
#include "server/probe/embedding_probe.h"
#include "server/probe/kl_summary.h"
#include "server/service/convert.h"
#include "server/service/prunegate_service.h"
#include "server/service/request_inputs.h"

namespace prunegate::service {
namespace {

constexpr size_t kChunk = 8;  // items or texts per probe call
constexpr int64_t kDefaultEmbeddingTopK = 3;
constexpr int64_t kDefaultKlContext = 512;

struct Runners {
  eval::Runner a, b;
};

Runners MakeRunners(const ModelPair& pair) {
  return {{pair.baseline->model, pair.tokenizer}, {pair.candidate->model, pair.tokenizer}};
}

template <typename T>
std::vector<T> Slice(const std::vector<T>& items, size_t begin) {
  const size_t end = std::min(items.size(), begin + kChunk);
  return std::vector<T>(items.begin() + begin, items.begin() + end);
}

absl::Status Cancelled(const char* rpc) {
  return absl::CancelledError(absl::StrCat(rpc, " was cancelled"));
}

absl::StatusOr<eval::Pooling> ToPooling(v1::Pooling pooling) {
  switch (pooling) {
    case v1::POOLING_UNSPECIFIED:
    case v1::LAST:
      return eval::Pooling::kLastToken;
    case v1::MEAN:
      return eval::Pooling::kMean;
    default:
      return absl::InvalidArgumentError(absl::StrCat("pooling ", pooling, " is not LAST or MEAN"));
  }
}

}  // namespace

absl::Status PrunegateService::RunProbeChoices(const v1::ProbeChoicesRequest& request,
                                               StreamWriter<v1::ChoiceEvent>& out) {
  PG_ASSIGN_OR_RETURN(ModelPair pair,
                      ResolvePair(*registry_, request.baseline(), request.candidate()));
  if (request.items().empty()) {
    return absl::InvalidArgumentError("items: give at least one multiple-choice item");
  }
  PG_RETURN_IF_ERROR(CheckItemCount("items", request.items_size(), limits_));
  PG_RETURN_IF_ERROR(RequireTokenizer(pair, "items"));
  PG_ASSIGN_OR_RETURN(std::vector<double> temperatures,
                      ResolveTemperatures(request.temperatures(), limits_));
  std::vector<tasks::MultipleChoiceItem> items;
  std::vector<std::string> prompts;
  for (int i = 0; i < request.items_size(); ++i) {
    PG_ASSIGN_OR_RETURN(tasks::MultipleChoiceItem item, FromProto(request.items(i), i, "items"));
    prompts.push_back(item.prompt);
    items.push_back(std::move(item));
  }
  const Runners runners = MakeRunners(pair);
  int64_t labelled = 0, correct_a = 0, correct_b = 0, agree = 0;
  std::vector<double> kl_sum(temperatures.size(), 0.0);
  for (size_t begin = 0; begin < items.size(); begin += kChunk) {
    if (out.Cancelled()) return Cancelled("ProbeChoices");
    PG_ASSIGN_OR_RETURN(
        probe::ChoiceSummary chunk,
        probe::ProbeChoices(runners.a, runners.b, Slice(items, begin), temperatures));
    for (size_t j = 0; j < chunk.results.size(); ++j) {
      const probe::ChoiceItemResult& result = chunk.results[j];
      v1::ChoiceEvent event;
      v1::ChoiceResult* proto = event.mutable_item();
      proto->set_index(static_cast<int32_t>(begin + j));
      proto->set_id(result.id);
      for (const probe::SubspaceStats& stats : result.subspace) {
        ToProto(stats, proto->add_subspace());
      }
      proto->set_label(result.label);
      proto->set_correct_a(result.correct_a);
      proto->set_correct_b(result.correct_b);
      if (!out.Write(std::move(event))) return Cancelled("ProbeChoices");
      agree += result.subspace.front().argmax_agree ? 1 : 0;
      for (size_t t = 0; t < temperatures.size(); ++t) kl_sum[t] += result.subspace[t].kl;
      if (result.label >= 0) {
        ++labelled;
        correct_a += result.correct_a ? 1 : 0;
        correct_b += result.correct_b ? 1 : 0;
      }
    }
  }
  const int64_t tokens = CountTokens(pair, prompts);
  CountForwardTokens(pair, tokens);
  v1::ChoiceEvent event;
  v1::ChoiceSummary* summary = event.mutable_summary();
  const double n = static_cast<double>(items.size());
  summary->set_items(static_cast<int32_t>(items.size()));
  summary->set_labelled(static_cast<int32_t>(labelled));
  summary->set_accuracy_a(labelled > 0 ? static_cast<double>(correct_a) / labelled : 0);
  summary->set_accuracy_b(labelled > 0 ? static_cast<double>(correct_b) / labelled : 0);
  summary->set_argmax_agreement(agree / n);
  for (size_t t = 0; t < temperatures.size(); ++t) {
    summary->add_temperatures(temperatures[t]);
    summary->add_mean_kl(kl_sum[t] / n);
  }
  if (!out.Write(std::move(event))) return Cancelled("ProbeChoices");
  return absl::OkStatus();
}

absl::Status PrunegateService::RunProbeEmbeddings(const v1::ProbeEmbeddingsRequest& request,
                                                  StreamWriter<v1::EmbeddingEvent>& out) {
  PG_ASSIGN_OR_RETURN(ModelPair pair,
                      ResolvePair(*registry_, request.baseline(), request.candidate()));
  if (request.texts().empty() && request.sets().empty()) {
    return absl::InvalidArgumentError("give texts or retrieval sets to embed");
  }
  PG_RETURN_IF_ERROR(CheckItemCount("texts", request.texts_size(), limits_));
  PG_RETURN_IF_ERROR(CheckItemCount("sets", request.sets_size(), limits_));
  PG_RETURN_IF_ERROR(RequireTokenizer(pair, "texts"));
  PG_ASSIGN_OR_RETURN(eval::Pooling pooling, ToPooling(request.pooling()));
  PG_ASSIGN_OR_RETURN(int64_t top_k,
                      ResolvePositive(request.top_k(), kDefaultEmbeddingTopK, "top_k"));
  std::vector<std::string> texts(request.texts().begin(), request.texts().end());
  std::vector<std::string> all_texts = texts;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty())
      return absl::InvalidArgumentError(absl::StrCat("texts[", i, "] is empty"));
  }
  std::vector<tasks::RetrievalItem> sets;
  for (int i = 0; i < request.sets_size(); ++i) {
    const v1::RetrievalSet& set = request.sets(i);
    PG_RETURN_IF_ERROR(CheckItemCount(absl::StrCat("sets[", i, "] documents and queries").c_str(),
                                      set.documents_size() + set.queries_size(), limits_));
    PG_ASSIGN_OR_RETURN(tasks::RetrievalItem item, FromProto(set, i, "sets"));
    for (const auto& doc : item.documents) all_texts.push_back(doc.text);
    for (const auto& query : item.queries) all_texts.push_back(query.text);
    sets.push_back(std::move(item));
  }
  const Runners runners = MakeRunners(pair);
  double cosine_sum = 0;
  for (size_t begin = 0; begin < texts.size(); begin += kChunk) {
    if (out.Cancelled()) return Cancelled("ProbeEmbeddings");
    PG_ASSIGN_OR_RETURN(
        probe::EmbeddingSummary chunk,
        probe::ProbeEmbeddings(runners.a, runners.b, Slice(texts, begin), {}, pooling, top_k));
    for (size_t j = 0; j < chunk.text_cosine.size(); ++j) {
      v1::EmbeddingEvent event;
      event.mutable_text()->set_index(static_cast<int32_t>(begin + j));
      event.mutable_text()->set_cosine(chunk.text_cosine[j]);
      cosine_sum += chunk.text_cosine[j];
      if (!out.Write(std::move(event))) return Cancelled("ProbeEmbeddings");
    }
  }
  // Retrieval sets one at a time; query statistics pooled over every query.
  int64_t queries = 0;
  double hits_a = 0, hits_b = 0, overlap = 0, tau = 0;
  for (const tasks::RetrievalItem& set : sets) {
    if (out.Cancelled()) return Cancelled("ProbeEmbeddings");
    PG_ASSIGN_OR_RETURN(probe::EmbeddingSummary one,
                        probe::ProbeEmbeddings(runners.a, runners.b, {}, {set}, pooling, top_k));
    queries += one.queries;
    hits_a += one.recall_at_1_a * one.queries;
    hits_b += one.recall_at_1_b * one.queries;
    overlap += one.mean_topk_overlap * one.queries;
    tau += one.mean_kendall_tau * one.queries;
  }
  const int64_t tokens = CountTokens(pair, all_texts);
  CountForwardTokens(pair, tokens);
  v1::EmbeddingEvent event;
  v1::EmbeddingSummary* summary = event.mutable_summary();
  summary->set_mean_cosine(texts.empty() ? 0 : cosine_sum / static_cast<double>(texts.size()));
  summary->set_queries(static_cast<int32_t>(queries));
  if (queries > 0) {
    summary->set_recall_at_1_a(std::round(hits_a) / queries);
    summary->set_recall_at_1_b(std::round(hits_b) / queries);
    summary->set_mean_topk_overlap(overlap / queries);
    summary->set_mean_kendall_tau(tau / queries);
  }
  if (!out.Write(std::move(event))) return Cancelled("ProbeEmbeddings");
  return absl::OkStatus();
}

absl::Status PrunegateService::RunSummarizeKl(const v1::SummarizeKlRequest& request,
                                              StreamWriter<v1::KlEvent>& out) {
  PG_ASSIGN_OR_RETURN(ModelPair pair,
                      ResolvePair(*registry_, request.baseline(), request.candidate()));
  PG_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                      ResolveInput(request.text(), pair, limits_, "text"));
  probe::KlSummaryOptions options;
  PG_ASSIGN_OR_RETURN(options.context,
                      ResolvePositive(request.context(), kDefaultKlContext, "context"));
  const double temperature = request.temperature();
  if (!std::isfinite(temperature) || temperature < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be finite and > 0 (0 = 1.0), got ", temperature));
  }
  options.temperature = temperature == 0 ? 1.0 : temperature;
  auto on_window = [&out](int64_t done, int64_t total) {
    v1::KlEvent event;
    event.mutable_progress()->set_stage("windows");
    event.mutable_progress()->set_done(done);
    event.mutable_progress()->set_total(total);
    out.Write(std::move(event));  // a cancelled call stops at the next window
  };
  PG_ASSIGN_OR_RETURN(probe::KlSummary summary,
                      probe::SummarizeKl(pair.baseline->model, pair.candidate->model, ids, options,
                                         out.CancelledFn(), on_window));
  CountForwardTokens(pair, static_cast<int64_t>(ids.size()));
  metrics_->LastKl(pair.baseline->info.name, pair.candidate->info.name, summary.kl.mean);
  v1::KlEvent event;
  ToProto(summary, event.mutable_summary());
  if (!out.Write(std::move(event))) return Cancelled("SummarizeKl");
  return absl::OkStatus();
}

}  // namespace prunegate::service
