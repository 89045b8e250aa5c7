// RankLayers: the pruning-layer advisor (probe::RankLayers) for one baseline and a drop family;
// streams Progress (the importance pass, then each prompt) and ends with the LayerRanking.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/model.h"
#include "server/model/tokenizer.h"
#include "server/probe/layer_ranking.h"
#include "server/service/model_factory.h"
#include "server/service/prunegate_service.h"
#include "server/service/request_inputs.h"
#include "server/verdict/assess.h"

namespace prunegate::service {
namespace {

// Items of the default prompt set taken from each task of the baseline's tasks/ folder.
constexpr int64_t kDefaultItemsPerTask = 16;

absl::StatusOr<prune::DropKind> ToFamily(v1::DropKind family) {
  switch (family) {
    case v1::DROP_ATTENTION:
      return prune::DropKind::kAttention;
    case v1::DROP_MLP:
      return prune::DropKind::kMlp;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("family must be DROP_ATTENTION or DROP_MLP, not ",
                       v1::DropKind_IsValid(family) ? v1::DropKind_Name(family)
                                                    : absl::StrCat(static_cast<int>(family))));
  }
}

// The request's prompts, else the generation prompts of the baseline's tasks/ folder, else the
// built-in prompts, as token ids.
absl::StatusOr<std::vector<std::vector<int64_t>>> RankPrompts(const v1::RankLayersRequest& request,
                                                              const ModelPair& pair,
                                                              const RequestLimits& limits) {
  PG_RETURN_IF_ERROR(CheckItemCount("prompts", request.prompts_size(), limits));
  std::vector<std::vector<int64_t>> prompts;
  for (int i = 0; i < request.prompts_size(); ++i) {
    const std::string field = absl::StrCat("prompts[", i, "]");
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                        ResolveInput(request.prompts(i), pair, limits, field.c_str()));
    prompts.push_back(std::move(ids));
  }
  if (!prompts.empty()) return prompts;
  if (pair.tokenizer == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("prompts: ", pair.baseline->info.name,
                     " has no tokenizer, so the default prompts cannot be encoded; send ids"));
  }
  PG_ASSIGN_OR_RETURN(tasks::TaskSuite suite,
                      CheckpointTaskItems(*pair.baseline, kDefaultItemsPerTask));
  std::vector<std::string> texts;
  for (const tasks::GenerationItem& item : suite.generation) texts.push_back(item.prompt);
  if (texts.empty()) texts = verdict::BuiltinGenerationPrompts();
  const auto context = static_cast<size_t>(pair.baseline->model->config().max_position_embeddings);
  for (const std::string& text : texts) {
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> ids, pair.tokenizer->Encode(text, true));
    if (ids.empty()) continue;
    if (ids.size() > context) ids.resize(context);
    prompts.push_back(std::move(ids));
  }
  if (prompts.empty()) return absl::InvalidArgumentError("prompts: the default set encodes empty");
  return prompts;
}

void ToProto(const probe::LayerRanking& ranking, v1::DropKind family, v1::LayerRanking* out) {
  out->set_family(family);
  out->mutable_temperatures()->Add(ranking.temperatures.begin(), ranking.temperatures.end());
  out->set_prompts(static_cast<int32_t>(ranking.prompts));
  out->set_positions(ranking.positions);
  for (const probe::LayerDamage& d : ranking.layers) {
    v1::LayerDamage* row = out->add_layers();
    row->set_layer(d.layer);
    row->set_sublayer(d.sublayer == Sublayer::kAttention ? v1::ATTENTION : v1::MLP);
    row->set_importance(d.importance);
    row->set_ang_h(d.ang_h);
    row->set_ang_h_pred(d.ang_h_pred);
    row->set_ang_z(d.ang_z);
    row->set_ang_z_pred(d.ang_z_pred);
    row->set_top1_agreement(d.top1);
    row->set_propagated_top1_agreement(d.propagated_top1);
    for (const probe::TemperatureDamage& t : d.temperatures) {
      v1::LayerDamageAtTemperature* at = row->add_temperatures();
      at->set_temperature(t.temperature);
      at->set_kl(t.kl);
      at->set_kl_pred(t.kl_pred);
      at->set_ang_p(t.ang_p);
      at->set_ang_p_pred(t.ang_p_pred);
      at->set_propagated_kl(t.propagated_kl);
    }
    row->set_damage_rank(d.damage_rank);
    row->set_importance_rank(d.importance_rank);
  }
  for (int layer : ranking.by_importance) out->add_by_importance(layer);
}

}  // namespace

absl::Status PrunegateService::RunRankLayers(const v1::RankLayersRequest& request,
                                             StreamWriter<v1::RankLayersEvent>& out) {
  if (request.baseline().empty()) {
    return absl::InvalidArgumentError("baseline: no model name given");
  }
  ModelPair pair;  // the baseline on both sides: its tokenizer encodes the prompts
  PG_ASSIGN_OR_RETURN(pair.baseline, registry_->Get(request.baseline()));
  pair.candidate = pair.baseline;
  pair.tokenizer = pair.baseline->tokenizer;
  probe::LayerRankingOptions options;
  PG_ASSIGN_OR_RETURN(options.family, ToFamily(request.family()));
  PG_ASSIGN_OR_RETURN(options.temperatures, ResolveTemperatures(request.temperatures(), limits_));
  PG_ASSIGN_OR_RETURN(std::vector<std::vector<int64_t>> prompts,
                      RankPrompts(request, pair, limits_));
  auto progress = [&out](const probe::RankProgress& p) {
    v1::RankLayersEvent event;
    event.mutable_progress()->set_stage(p.stage);
    event.mutable_progress()->set_done(p.done);
    event.mutable_progress()->set_total(p.total);
    out.Write(std::move(event));  // a cancelled call stops at the next poll
  };
  PG_ASSIGN_OR_RETURN(
      probe::LayerRanking ranking,
      probe::RankLayers(pair.baseline->model, prompts, options, progress, out.CancelledFn()));
  // Tokens through the forward pass: the importance pass and the layer probe's baseline walk.
  metrics_->ForwardTokens(pair.baseline->info.name, 2 * ranking.positions);
  v1::RankLayersEvent event;
  ToProto(ranking, request.family(), event.mutable_ranking());
  if (!out.Write(std::move(event))) return absl::CancelledError("RankLayers was cancelled");
  return absl::OkStatus();
}

}  // namespace prunegate::service
