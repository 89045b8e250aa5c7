// The registry RPCs: LoadModel, DeriveModel, UnloadModel, ListModels.
#include <memory>

#include "absl/strings/str_cat.h"
#include "server/prune/drop.h"
#include "server/service/convert.h"
#include "server/service/prunegate_service.h"
#include "server/service/request_inputs.h"

namespace prunegate::service {
namespace {

absl::StatusOr<DeriveSpec> ToDeriveSpec(const v1::DeriveModelRequest& request,
                                        const RequestLimits& limits) {
  if (!request.has_recipe()) return absl::InvalidArgumentError("recipe is missing");
  const v1::DropRecipe& recipe = request.recipe();
  DeriveSpec spec;
  spec.baseline = request.baseline();
  spec.name = request.name();
  if (spec.baseline.empty()) return absl::InvalidArgumentError("baseline: no model name given");
  switch (recipe.kind()) {
    case v1::DROP_ATTENTION:
      spec.kind = prune::DropKind::kAttention;
      break;
    case v1::DROP_MLP:
      spec.kind = prune::DropKind::kMlp;
      break;
    case v1::DROP_BLOCK:
      spec.kind = prune::DropKind::kBlock;
      break;
    default:
      return absl::InvalidArgumentError(
          "recipe.kind must be DROP_ATTENTION, DROP_MLP or DROP_BLOCK");
  }
  switch (recipe.selection()) {
    case v1::SELECTION_UNSPECIFIED:
    case v1::ONE_SHOT:
      spec.selection = prune::Selection::kOneShot;
      break;
    case v1::ITERATIVE:
      spec.selection = prune::Selection::kIterative;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("recipe.selection ", recipe.selection(), " is not ONE_SHOT or ITERATIVE"));
  }
  spec.layers.assign(recipe.layers().begin(), recipe.layers().end());
  spec.count = recipe.count();
  absl::Status items =
      CheckItemCount("recipe.calibration_texts", recipe.calibration_texts_size(), limits);
  if (!items.ok()) return items;
  spec.calibration_texts.assign(recipe.calibration_texts().begin(),
                                recipe.calibration_texts().end());
  return spec;
}

// Finishes `call` with the registry's outcome, filling `response` when it is a model.
ModelRegistry::Done FinishWith(std::shared_ptr<UnaryCall> call, v1::ModelInfo* response) {
  return [call = std::move(call), response](const absl::StatusOr<ModelInfo>& info) {
    if (info.ok()) ToProto(*info, response);
    call->Finish(info.status());
  };
}

}  // namespace

grpc::ServerUnaryReactor* PrunegateService::LoadModel(grpc::CallbackServerContext* context,
                                                      const v1::LoadModelRequest* request,
                                                      v1::ModelInfo* response) {
  auto call = std::make_shared<UnaryCall>(env_, context, "LoadModel");
  if (!call->ok()) return call->reactor();
  const LoadSpec spec{request->name(), request->path(), request->device(), request->dtype()};
  // With `wait`, the registry's worker finishes the call once the load is over.
  absl::StatusOr<ModelInfo> info =
      registry_->Load(spec, request->wait() ? FinishWith(call, response) : ModelRegistry::Done());
  if (!info.ok()) {
    call->Finish(info.status());
  } else if (!request->wait()) {
    ToProto(*info, response);
    call->Finish(absl::OkStatus());
  }
  return call->reactor();
}

grpc::ServerUnaryReactor* PrunegateService::DeriveModel(grpc::CallbackServerContext* context,
                                                        const v1::DeriveModelRequest* request,
                                                        v1::ModelInfo* response) {
  auto call = std::make_shared<UnaryCall>(env_, context, "DeriveModel");
  if (!call->ok()) return call->reactor();
  absl::StatusOr<DeriveSpec> spec = ToDeriveSpec(*request, limits_);
  absl::Status status = spec.status();
  if (status.ok()) status = registry_->Derive(*spec, FinishWith(call, response)).status();
  if (!status.ok()) call->Finish(status);  // else the registry's worker finishes it
  return call->reactor();
}

grpc::ServerUnaryReactor* PrunegateService::UnloadModel(grpc::CallbackServerContext* context,
                                                        const v1::UnloadModelRequest* request,
                                                        v1::UnloadModelResponse* response) {
  UnaryCall call(env_, context, "UnloadModel");
  if (call.ok()) call.Finish(registry_->Unload(request->name()));
  return call.reactor();
}

grpc::ServerUnaryReactor* PrunegateService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* request,
                                                       v1::ListModelsResponse* response) {
  UnaryCall call(env_, context, "ListModels");
  if (!call.ok()) return call.reactor();
  for (const ModelInfo& info : registry_->List()) ToProto(info, response->add_models());
  call.Finish(absl::OkStatus());
  return call.reactor();
}

}  // namespace prunegate::service
