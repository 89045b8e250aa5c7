// prunegate.v1.Prunegate on the gRPC callback API. Unary registry RPCs finish from the registry's
// workers when they wait for a load or derivation; the seven streaming RPCs share StreamReactor
// (a worker thread per stream, a bounded queue, cancellation polled by the probes). Every RPC
// checks the bearer token first and records its metrics. Torch-free header; the RPC bodies live
// in registry_rpcs.cc, probe_rpcs.cc, task_probe_rpcs.cc, rank_layers_rpc.cc and assess_rpc.cc.
#ifndef PRUNEGATE_SERVER_SERVICE_PRUNEGATE_SERVICE_H_
#define PRUNEGATE_SERVER_SERVICE_PRUNEGATE_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "prunegate/v1/prunegate.grpc.pb.h"
#include "server/service/auth.h"
#include "server/service/call.h"
#include "server/service/limits.h"
#include "server/service/metrics.h"
#include "server/service/registry.h"
#include "server/service/request_inputs.h"
#include "server/service/stream_reactor.h"
#include "server/service/worker_pool.h"

namespace prunegate::service {

struct ServiceOptions {
  RequestLimits limits;
  int max_streams = 64;             // server-wide concurrent streams; 0 = unlimited
  int max_streams_per_client = 16;  // per bearer token, else per peer IP; 0 = unlimited
  std::string token;                // bearer token; "" = no authentication
};

class PrunegateService final : public v1::Prunegate::CallbackService {
 public:
  // `registry` and `metrics` must outlive the service.
  PrunegateService(ModelRegistry* registry, Metrics* metrics, const ServiceOptions& options);
  PrunegateService(const PrunegateService&) = delete;
  PrunegateService& operator=(const PrunegateService&) = delete;
  ~PrunegateService() override;  // waits for the stream workers

  int streams_in_flight() const { return limiter_.in_flight(); }

  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const v1::LoadModelRequest* request,
                                      v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* DeriveModel(grpc::CallbackServerContext* context,
                                        const v1::DeriveModelRequest* request,
                                        v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const v1::UnloadModelRequest* request,
                                        v1::UnloadModelResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

  grpc::ServerWriteReactor<v1::LayerRecord>* ProbeLayers(
      grpc::CallbackServerContext* context, const v1::ProbeLayersRequest* request) override;
  grpc::ServerWriteReactor<v1::TraceEvent>* TraceDecode(
      grpc::CallbackServerContext* context, const v1::TraceDecodeRequest* request) override;
  grpc::ServerWriteReactor<v1::ChoiceEvent>* ProbeChoices(
      grpc::CallbackServerContext* context, const v1::ProbeChoicesRequest* request) override;
  grpc::ServerWriteReactor<v1::EmbeddingEvent>* ProbeEmbeddings(
      grpc::CallbackServerContext* context, const v1::ProbeEmbeddingsRequest* request) override;
  grpc::ServerWriteReactor<v1::KlEvent>* SummarizeKl(
      grpc::CallbackServerContext* context, const v1::SummarizeKlRequest* request) override;
  grpc::ServerWriteReactor<v1::RankLayersEvent>* RankLayers(
      grpc::CallbackServerContext* context, const v1::RankLayersRequest* request) override;
  grpc::ServerWriteReactor<v1::AssessEvent>* Assess(grpc::CallbackServerContext* context,
                                                    const v1::AssessRequest* request) override;

 private:
  // The bodies of the streaming RPCs, run on the stream's worker thread.
  absl::Status RunProbeLayers(const v1::ProbeLayersRequest& request,
                              StreamWriter<v1::LayerRecord>& out);
  absl::Status RunTraceDecode(const v1::TraceDecodeRequest& request,
                              StreamWriter<v1::TraceEvent>& out);
  absl::Status RunProbeChoices(const v1::ProbeChoicesRequest& request,
                               StreamWriter<v1::ChoiceEvent>& out);
  absl::Status RunProbeEmbeddings(const v1::ProbeEmbeddingsRequest& request,
                                  StreamWriter<v1::EmbeddingEvent>& out);
  absl::Status RunSummarizeKl(const v1::SummarizeKlRequest& request,
                              StreamWriter<v1::KlEvent>& out);
  absl::Status RunRankLayers(const v1::RankLayersRequest& request,
                             StreamWriter<v1::RankLayersEvent>& out);
  absl::Status RunAssess(const v1::AssessRequest& request, StreamWriter<v1::AssessEvent>& out);
  // Counts `tokens` run through the forward pass of each model of the pair.
  void CountForwardTokens(const ModelPair& pair, int64_t tokens);

  ModelRegistry* const registry_;
  Metrics* const metrics_;
  const RequestLimits limits_;
  const BearerAuth auth_;
  StreamLimiter limiter_;
  ThreadTracker threads_;  // stream workers
  CallEnv env_;
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_PRUNEGATE_SERVICE_H_
