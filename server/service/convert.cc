#include "server/service/convert.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "server/probe/kl_summary.h"
#include "server/probe/stats.h"
#include "server/tasks/task_validate.h"

namespace prunegate::service {
namespace {

v1::ModelState ToProto(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return v1::LOADING;
    case ModelState::kReady:
      return v1::READY;
    case ModelState::kFailed:
      return v1::FAILED;
  }
  return v1::MODEL_STATE_UNSPECIFIED;
}

void ToProto(const probe::Distribution& d, v1::Distribution* out) {
  out->set_mean(d.mean);
  out->set_stderr_mean(d.stderr_mean);
  out->set_max(d.max);
  out->set_p99_9(d.p99_9);
  out->set_p99(d.p99);
  out->set_p95(d.p95);
  out->set_p90(d.p90);
  out->set_p75(d.p75);
  out->set_median(d.median);
  out->set_p25(d.p25);
  out->set_p10(d.p10);
  out->set_p5(d.p5);
  out->set_p1(d.p1);
  out->set_p0_1(d.p0_1);
  out->set_min(d.min);
}

absl::Status Located(const char* field, int index, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(field, "[", index, "]: ", status.message()));
}

}  // namespace

void ToProto(const ModelInfo& info, v1::ModelInfo* out) {
  out->set_name(info.name);
  out->set_state(ToProto(info.state));
  out->set_reason(info.reason);
  out->set_architecture(info.architecture);
  out->set_device(info.device);
  out->set_dtype(info.dtype);
  out->set_num_layers(info.num_layers);
  out->set_hidden_size(info.hidden_size);
  out->set_vocab_size(info.vocab_size);
  out->set_parameters(info.parameters);
  out->set_bytes_resident(info.bytes_resident);
  out->set_bytes_shared(info.bytes_shared);
  out->set_baseline(info.baseline);
  out->set_recipe(info.recipe);
  for (int layer : info.dropped_layers) out->add_dropped_layers(layer);
  for (const LayerImportance& score : info.importance) {
    v1::ImportanceScore* proto = out->add_importance();
    proto->set_layer(score.layer);
    proto->set_similarity(score.similarity);
  }
  out->set_path(info.path);
}

void ToProto(const probe::VectorStats& stats, v1::VectorStats* out) {
  out->set_ang(stats.ang);
  out->set_ang_pred(stats.ang_pred);
  out->set_norm_a(stats.norm_a);
  out->set_norm_b(stats.norm_b);
  out->set_rel_delta(stats.rel_delta);
}

void ToProto(const probe::LogitStats& stats, v1::LogitStats* out) {
  ToProto(stats.vector, out->mutable_vector());
  out->set_top1_agree(stats.top1_agree);
  out->set_topk_overlap(stats.topk_overlap);
  out->set_top1_a(stats.top1_a);
  out->set_top1_b(stats.top1_b);
}

void ToProto(const probe::ProbStats& stats, v1::ProbStats* out) {
  out->set_temperature(stats.temperature);
  out->set_kl(stats.kl);
  out->set_kl_pred(stats.kl_pred);
  out->set_ang(stats.ang);
  out->set_ang_pred(stats.ang_pred);
  out->set_js(stats.js);
  out->set_tv(stats.tv);
  out->set_entropy_a(stats.entropy_a);
  out->set_entropy_b(stats.entropy_b);
  out->set_dp_ref(stats.dp_ref);
}

void ToProto(const probe::RowStats& stats, v1::LogitStats* logits,
             google::protobuf::RepeatedPtrField<v1::ProbStats>* probs) {
  ToProto(stats.logits, logits);
  for (const probe::ProbStats& p : stats.probs) ToProto(p, probs->Add());
}

void ToProto(const probe::SubspaceStats& stats, v1::SubspaceStats* out) {
  out->set_temperature(stats.temperature);
  out->set_kl(stats.kl);
  out->set_ang(stats.ang);
  out->set_argmax_a(static_cast<int32_t>(stats.argmax_a));
  out->set_argmax_b(static_cast<int32_t>(stats.argmax_b));
  out->set_argmax_agree(stats.argmax_agree);
  for (double p : stats.p) out->add_p(p);
  for (double q : stats.q) out->add_q(q);
}

void ToProto(const probe::KlSummary& summary, v1::KlSummary* out) {
  out->set_tokens(summary.tokens);
  out->set_ppl_a(summary.ppl_a);
  out->set_ppl_b(summary.ppl_b);
  out->set_ln_ppl_ratio(summary.ln_ppl_ratio);
  out->set_ln_ppl_ratio_err(summary.ln_ppl_ratio_err);
  ToProto(summary.kl, out->mutable_kl());
  ToProto(summary.dp, out->mutable_dp());
  out->set_rms_dp(summary.rms_dp);
  out->set_rms_dp_err(summary.rms_dp_err);
  out->set_same_top(summary.same_top);
  out->set_same_top_err(summary.same_top_err);
  out->set_text(probe::FormatKlSummary(summary));
}

v1::Verdict ToProto(verdict::Level level) {
  switch (level) {
    case verdict::Level::kSafe:
      return v1::SAFE;
    case verdict::Level::kRisky:
      return v1::RISKY;
    case verdict::Level::kUnsafe:
      return v1::UNSAFE;
  }
  return v1::VERDICT_UNSPECIFIED;
}

v1::TaskType ToProto(verdict::TaskType task) {
  switch (task) {
    case verdict::TaskType::kGeneration:
      return v1::GENERATION;
    case verdict::TaskType::kMultipleChoice:
      return v1::MULTIPLE_CHOICE;
    case verdict::TaskType::kRetrieval:
      return v1::RETRIEVAL;
  }
  return v1::TASK_TYPE_UNSPECIFIED;
}

void ToProto(const verdict::Assessment& assessment, v1::Assessment* out) {
  out->set_task(ToProto(assessment.task));
  out->set_overall(ToProto(assessment.overall));
  for (const verdict::TemperatureVerdict& tv : assessment.verdicts) {
    v1::TemperatureVerdict* proto = out->add_verdicts();
    proto->set_temperature(tv.temperature);
    proto->set_verdict(ToProto(tv.level));
    proto->set_rule(tv.rule);
    proto->set_reason(tv.reason);
    for (const verdict::Check& check : tv.checks) {
      v1::Check* c = proto->add_checks();
      c->set_rule(check.rule);
      c->set_description(check.metric_description);
      c->set_value(check.value);
      c->set_risky(check.risky);
      c->set_unsafe(check.unsafe);
      c->set_level(ToProto(check.level));
    }
  }
}

absl::StatusOr<tasks::MultipleChoiceItem> FromProto(const v1::ChoiceItem& item, int index,
                                                    const char* field) {
  tasks::MultipleChoiceItem out;
  out.info.id = item.id().empty() ? std::to_string(index) : item.id();
  out.info.task = field;
  out.prompt = item.prompt();
  out.options.assign(item.options().begin(), item.options().end());
  if (item.has_label()) out.label = item.label();
  absl::Status valid = Located(field, index, tasks::ValidateMultipleChoiceItem(out));
  if (!valid.ok()) return valid;
  return out;
}

absl::StatusOr<tasks::RetrievalItem> FromProto(const v1::RetrievalSet& set, int index,
                                               const char* field) {
  tasks::RetrievalItem out;
  out.info.id = set.id().empty() ? std::to_string(index) : set.id();
  out.info.task = field;
  for (const v1::Document& doc : set.documents()) out.documents.push_back({doc.id(), doc.text()});
  for (const v1::Query& query : set.queries()) {
    out.queries.push_back(
        {query.id(), query.text(), {query.relevant().begin(), query.relevant().end()}});
  }
  absl::Status valid = Located(field, index, tasks::ValidateRetrievalItem(out));
  if (!valid.ok()) return valid;
  return out;
}

}  // namespace prunegate::service
