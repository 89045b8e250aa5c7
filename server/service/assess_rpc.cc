// Assess: runs the probes a task type needs (verdict::Assess), streams its progress and ends with
// the verdict per temperature and the library's JSON report.
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/eval/runner.h"
#include "server/model/model.h"
#include "server/service/convert.h"
#include "server/service/model_factory.h"
#include "server/service/prunegate_service.h"
#include "server/service/request_inputs.h"
#include "server/verdict/assess.h"
#include "server/verdict/policy.h"
#include "server/verdict/verdict.h"

namespace prunegate::service {
namespace {

// Items of the default set taken from each task of the baseline's tasks/ folder.
constexpr int64_t kDefaultItemsPerTask = 16;

absl::StatusOr<verdict::TaskType> ToTaskType(v1::TaskType task) {
  switch (task) {
    case v1::GENERATION:
      return verdict::TaskType::kGeneration;
    case v1::MULTIPLE_CHOICE:
      return verdict::TaskType::kMultipleChoice;
    case v1::RETRIEVAL:
      return verdict::TaskType::kRetrieval;
    default:
      return absl::InvalidArgumentError("task must be GENERATION, MULTIPLE_CHOICE or RETRIEVAL");
  }
}

tasks::GenerationItem GenerationPrompt(std::string id, std::string prompt) {
  tasks::GenerationItem item;
  item.info.id = std::move(id);
  item.info.task = "prompts";
  item.prompt = std::move(prompt);
  item.scoring = tasks::Scoring::kBaselineAgreement;  // judged against the baseline's output
  return item;
}

// The request's items of `task`, else the default set: the first items per task of the
// baseline's tasks/ folder, else (generation only) the built-in prompts.
absl::StatusOr<tasks::TaskSuite> AssessItems(const v1::AssessRequest& request,
                                             verdict::TaskType task, const ModelPair& pair,
                                             const RequestLimits& limits) {
  PG_RETURN_IF_ERROR(CheckItemCount("prompts", request.prompts_size(), limits));
  PG_RETURN_IF_ERROR(CheckItemCount("choices", request.choices_size(), limits));
  PG_RETURN_IF_ERROR(CheckItemCount("sets", request.sets_size(), limits));
  tasks::TaskSuite suite;
  for (int i = 0; i < request.prompts_size(); ++i) {
    if (request.prompts(i).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("prompts[", i, "] is empty"));
    }
    suite.generation.push_back(GenerationPrompt(std::to_string(i), request.prompts(i)));
  }
  for (int i = 0; i < request.choices_size(); ++i) {
    PG_ASSIGN_OR_RETURN(tasks::MultipleChoiceItem item,
                        FromProto(request.choices(i), i, "choices"));
    suite.multiple_choice.push_back(std::move(item));
  }
  for (int i = 0; i < request.sets_size(); ++i) {
    const v1::RetrievalSet& set = request.sets(i);
    PG_RETURN_IF_ERROR(CheckItemCount(absl::StrCat("sets[", i, "] documents and queries").c_str(),
                                      set.documents_size() + set.queries_size(), limits));
    PG_ASSIGN_OR_RETURN(tasks::RetrievalItem item, FromProto(set, i, "sets"));
    suite.retrieval.push_back(std::move(item));
  }
  const bool has_items = task == verdict::TaskType::kGeneration ? !suite.generation.empty()
                         : task == verdict::TaskType::kMultipleChoice
                             ? !suite.multiple_choice.empty()
                             : !suite.retrieval.empty();
  if (has_items) return suite;
  PG_ASSIGN_OR_RETURN(tasks::TaskSuite defaults,
                      CheckpointTaskItems(*pair.baseline, kDefaultItemsPerTask));
  if (task == verdict::TaskType::kGeneration && defaults.generation.empty()) {
    for (const std::string& prompt : verdict::BuiltinGenerationPrompts()) {
      defaults.generation.push_back(
          GenerationPrompt(absl::StrCat("builtin-", defaults.generation.size()), prompt));
    }
  }
  if (task == verdict::TaskType::kMultipleChoice && defaults.multiple_choice.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "choices: MULTIPLE_CHOICE needs items; send them, or use a baseline whose checkpoint has "
        "multiple-choice items in tasks/ (",
        pair.baseline->info.name, " has none)"));
  }
  if (task == verdict::TaskType::kRetrieval && defaults.retrieval.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sets: RETRIEVAL needs retrieval sets; send them, or use a baseline whose checkpoint has "
        "retrieval items in tasks/ (",
        pair.baseline->info.name, " has none)"));
  }
  return defaults;
}

}  // namespace

absl::Status PrunegateService::RunAssess(const v1::AssessRequest& request,
                                         StreamWriter<v1::AssessEvent>& out) {
  PG_ASSIGN_OR_RETURN(ModelPair pair,
                      ResolvePair(*registry_, request.baseline(), request.candidate()));
  verdict::AssessOptions options;
  PG_ASSIGN_OR_RETURN(options.task, ToTaskType(request.task()));
  PG_RETURN_IF_ERROR(RequireTokenizer(pair, "prompts"));
  PG_ASSIGN_OR_RETURN(options.temperatures, ResolveTemperatures(request.temperatures(), limits_));
  absl::StatusOr<verdict::Policy> policy = verdict::ParsePolicyJson(request.policy_json());
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("policy_json: ", policy.status().message()));
  }
  options.policy = *std::move(policy);
  if (request.max_steps() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_steps must be >= 0, got ", request.max_steps()));
  }
  options.max_steps = request.max_steps();
  const int64_t steps =
      options.max_steps > 0 ? options.max_steps : options.policy.generation.max_steps;
  PG_RETURN_IF_ERROR(
      CheckLimit("max_steps", steps, limits_.max_decode_steps, "--max-decode-steps"));
  options.seed = request.seed();
  PG_ASSIGN_OR_RETURN(tasks::TaskSuite items, AssessItems(request, options.task, pair, limits_));

  const eval::Runner baseline{pair.baseline->model, pair.tokenizer};
  const eval::Runner candidate{pair.candidate->model, pair.tokenizer};
  auto progress = [&out](const verdict::AssessProgress& p) {
    v1::AssessEvent event;
    event.mutable_progress()->set_stage(p.stage);
    event.mutable_progress()->set_done(p.done);
    event.mutable_progress()->set_total(p.total);
    if (p.temperature > 0) event.mutable_progress()->set_temperature(p.temperature);
    out.Write(std::move(event));  // a cancelled call stops at the next poll
  };
  PG_ASSIGN_OR_RETURN(
      verdict::Assessment assessment,
      verdict::Assess(baseline, candidate, items, options, progress, out.CancelledFn()));
  metrics_->VerdictGiven(verdict::TaskTypeName(assessment.task),
                         verdict::LevelName(assessment.overall));
  v1::AssessEvent event;
  ToProto(assessment, event.mutable_assessment());
  event.mutable_assessment()->set_json(verdict::AssessmentJson(assessment));
  if (!out.Write(std::move(event))) return absl::CancelledError("Assess was cancelled");
  return absl::OkStatus();
}

}  // namespace prunegate::service
