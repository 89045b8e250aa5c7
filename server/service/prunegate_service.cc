#include "server/service/prunegate_service.h"

namespace prunegate::service {

PrunegateService::PrunegateService(ModelRegistry* registry, Metrics* metrics,
                                   const ServiceOptions& options)
    : registry_(registry),
      metrics_(metrics),
      limits_(options.limits),
      auth_(options.token),
      limiter_(options.max_streams, options.max_streams_per_client),
      env_{metrics, &auth_, &limiter_, &threads_} {}

PrunegateService::~PrunegateService() { threads_.WaitIdle(); }

void PrunegateService::CountForwardTokens(const ModelPair& pair, int64_t tokens) {
  metrics_->ForwardTokens(pair.baseline->info.name, tokens);
  metrics_->ForwardTokens(pair.candidate->info.name, tokens);
}

grpc::ServerWriteReactor<v1::LayerRecord>* PrunegateService::ProbeLayers(
    grpc::CallbackServerContext* context, const v1::ProbeLayersRequest* request) {
  return StreamReactor<v1::LayerRecord>::Start(env_, context, "ProbeLayers",
                                               [this, request](StreamWriter<v1::LayerRecord>& out) {
                                                 return RunProbeLayers(*request, out);
                                               });
}

grpc::ServerWriteReactor<v1::TraceEvent>* PrunegateService::TraceDecode(
    grpc::CallbackServerContext* context, const v1::TraceDecodeRequest* request) {
  return StreamReactor<v1::TraceEvent>::Start(
      env_, context, "TraceDecode",
      [this, request](StreamWriter<v1::TraceEvent>& out) { return RunTraceDecode(*request, out); });
}

grpc::ServerWriteReactor<v1::ChoiceEvent>* PrunegateService::ProbeChoices(
    grpc::CallbackServerContext* context, const v1::ProbeChoicesRequest* request) {
  return StreamReactor<v1::ChoiceEvent>::Start(env_, context, "ProbeChoices",
                                               [this, request](StreamWriter<v1::ChoiceEvent>& out) {
                                                 return RunProbeChoices(*request, out);
                                               });
}

grpc::ServerWriteReactor<v1::EmbeddingEvent>* PrunegateService::ProbeEmbeddings(
    grpc::CallbackServerContext* context, const v1::ProbeEmbeddingsRequest* request) {
  return StreamReactor<v1::EmbeddingEvent>::Start(
      env_, context, "ProbeEmbeddings", [this, request](StreamWriter<v1::EmbeddingEvent>& out) {
        return RunProbeEmbeddings(*request, out);
      });
}

grpc::ServerWriteReactor<v1::KlEvent>* PrunegateService::SummarizeKl(
    grpc::CallbackServerContext* context, const v1::SummarizeKlRequest* request) {
  return StreamReactor<v1::KlEvent>::Start(
      env_, context, "SummarizeKl",
      [this, request](StreamWriter<v1::KlEvent>& out) { return RunSummarizeKl(*request, out); });
}

grpc::ServerWriteReactor<v1::RankLayersEvent>* PrunegateService::RankLayers(
    grpc::CallbackServerContext* context, const v1::RankLayersRequest* request) {
  return StreamReactor<v1::RankLayersEvent>::Start(
      env_, context, "RankLayers", [this, request](StreamWriter<v1::RankLayersEvent>& out) {
        return RunRankLayers(*request, out);
      });
}

grpc::ServerWriteReactor<v1::AssessEvent>* PrunegateService::Assess(
    grpc::CallbackServerContext* context, const v1::AssessRequest* request) {
  return StreamReactor<v1::AssessEvent>::Start(
      env_, context, "Assess",
      [this, request](StreamWriter<v1::AssessEvent>& out) { return RunAssess(*request, out); });
}

}  // namespace prunegate::service
