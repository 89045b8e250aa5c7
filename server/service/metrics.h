// Prometheus metrics of the prunegate server (DESIGN.md "Operations").
//
// Every family is registered once, in the constructor, on a registry the caller owns (no global
// singleton, so tests read the registry they passed in). Labelled children are resolved on the
// first use of a label set and cached; later calls cost one shared-lock hash lookup and an atomic
// update. Labels are bounded: rpc, code, model, device, task, verdict, baseline, candidate — never
// a layer, step or prompt.
//
// Families (all prefixed prunegate_):
//   rpc_requests_total{rpc,code}          counter   finished RPCs by gRPC status code name
//   rpc_latency_seconds{rpc}              histogram RPC duration, 1 ms ... 10 min buckets
//   streamed_messages_total{rpc}          counter   messages written on server streams
//   inflight_requests{rpc}                gauge     RPCs started and not finished
//   inflight_streams                      gauge     the streaming RPCs among them
//   models_resident{device}               gauge     READY models per device
//   model_bytes_resident{model,device}    gauge     bytes a model's tensors occupy
//   model_bytes_shared{model,device}      gauge     of those, bytes shared with its baseline
//   device_bytes_resident{device}         gauge     bytes per device, shared storage counted once
//   forward_tokens_total{model}           counter   tokens run through a model's forward pass
//   verdicts_total{task,verdict}          counter   verdicts given
//   last_kl{baseline,candidate}           gauge     KL(baseline || candidate) of the last probe
//   build_info{version}                   gauge     always 1
//
// Serving: MetricsHttpServer (metrics_http.h) exposes the registry as text. prometheus-cpp's pull
// Exposer must not be used in this process (TOOLCHAIN.md trap 2).
#ifndef PRUNEGATE_SERVER_SERVICE_METRICS_H_
#define PRUNEGATE_SERVER_SERVICE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace prunegate::service {

// One resident model as the registry sees it. `bytes_shared` is the part of `bytes_resident`
// that is also held by the model's baseline (derived candidates; 0 for a loaded model), so a
// device total counts it once: sum of (bytes_resident - bytes_shared).
struct ModelSample {
  std::string model, device;
  int64_t bytes_resident, bytes_shared;
  bool ready;
};

struct MetricsOptions {
  // Value of prunegate_build_info{version}.
  std::string version = DefaultVersion();
  // RPCs whose calls also count in prunegate_inflight_streams. Matched against the last '/'
  // component of the rpc name, so "Assess" and "/prunegate.v1.Prunegate/Assess" both match.
  std::vector<std::string> streaming_rpcs = DefaultStreamingRpcs();

  // The version compiled into this build (CMake's PRUNEGATE_VERSION).
  static std::string DefaultVersion();
  // The server-streaming methods of prunegate.v1.Prunegate.
  static std::vector<std::string> DefaultStreamingRpcs();
};

// Upper bounds (seconds) of prunegate_rpc_latency_seconds: 1 ms ... 10 min.
const std::vector<double>& RpcLatencyBuckets();

// The canonical name of a gRPC status code ("OK", "INVALID_ARGUMENT", ...); codes outside 0..16
// map to "UNKNOWN", as gRPC itself treats them.
const char* GrpcCodeName(int grpc_code);

// Thread-safe. `registry` must not be null. Use one Metrics per registry: two instances on the
// same registry share families, and SetModels of one would remove children the other has cached.
class Metrics {
 public:
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry);
  Metrics(std::shared_ptr<prometheus::Registry> registry, MetricsOptions options);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // In-flight +1 (and the stream gauge +1 for a streaming RPC). Every RpcStarted must be matched
  // by exactly one RpcFinished with the same rpc.
  void RpcStarted(const std::string& rpc);
  // Counts the call under its code name, observes its latency (negative or NaN → 0) and takes it
  // out of the in-flight gauges.
  void RpcFinished(const std::string& rpc, int grpc_code, double seconds);
  void MessageStreamed(const std::string& rpc);
  // Replaces the resident-model series with `models`: series of models (and devices) that are no
  // longer present are removed, and so are the forward-token and last-KL series that name a model
  // no longer present (this keeps the model-labelled series bounded by what is resident).
  // models_resident counts the models with `ready`; the byte gauges cover every sample. A
  // (model, device) pair given twice takes the later sample.
  void SetModels(const std::vector<ModelSample>& models);
  // Adds `tokens` (ignored when negative) to forward_tokens_total{model}.
  void ForwardTokens(const std::string& model, int64_t tokens);
  // `verdict` is a prunegate.v1.Verdict name: SAFE, RISKY or UNSAFE (deploy/prometheus/rules.yml
  // alerts on "UNSAFE"). The first verdict of a task exports all three outcomes of it, at 0.
  void VerdictGiven(const std::string& task, const std::string& verdict);
  void LastKl(const std::string& baseline, const std::string& candidate, double kl);

  std::shared_ptr<prometheus::Registry> registry() const;

 private:
  static constexpr int kNumGrpcCodes = 17;  // OK (0) ... UNAUTHENTICATED (16)

  // Children of one RPC, resolved on its first use.
  struct RpcChildren {
    bool streaming = false;
    prometheus::Gauge* inflight = nullptr;
    prometheus::Histogram* latency = nullptr;
    prometheus::Counter* streamed = nullptr;
    // Indexed by gRPC code, resolved on first use; read without the lock.
    std::atomic<prometheus::Counter*> by_code[kNumGrpcCodes] = {};
  };
  struct ModelChildren {
    prometheus::Gauge* bytes_resident = nullptr;
    prometheus::Gauge* bytes_shared = nullptr;
  };
  struct DeviceChildren {
    prometheus::Gauge* models = nullptr;
    prometheus::Gauge* bytes = nullptr;
  };
  using Key2 = std::pair<std::string, std::string>;

  RpcChildren& Rpc(const std::string& rpc) ABSL_LOCKS_EXCLUDED(mu_);
  prometheus::Counter& RequestCounter(const std::string& rpc, RpcChildren& children, int code)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Applies `update` to the child of `key` in `children` (a map guarded by mu_), creating it with
  // `make` on first use. The child is touched only under mu_ (shared when it exists), because
  // SetModels may remove it.
  template <typename Map, typename Make, typename Update>
  void UpdateChild(Map& children, const typename Map::key_type& key, const Make& make,
                   const Update& update) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the forward-token and last-KL children that name a model outside `resident`.
  void PruneModelSeries(const absl::flat_hash_set<std::string>& resident)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<prometheus::Registry> registry_;
  absl::flat_hash_set<std::string> streaming_rpcs_;

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& streamed_;
  prometheus::Family<prometheus::Gauge>& inflight_requests_;
  prometheus::Gauge& inflight_streams_;
  prometheus::Family<prometheus::Gauge>& models_resident_;
  prometheus::Family<prometheus::Gauge>& model_bytes_resident_;
  prometheus::Family<prometheus::Gauge>& model_bytes_shared_;
  prometheus::Family<prometheus::Gauge>& device_bytes_resident_;
  prometheus::Family<prometheus::Counter>& forward_tokens_;
  prometheus::Family<prometheus::Counter>& verdicts_;
  prometheus::Family<prometheus::Gauge>& last_kl_;

  mutable absl::Mutex mu_;
  // Node maps: RpcChildren addresses stay valid while other RPCs are added.
  absl::flat_hash_map<std::string, std::unique_ptr<RpcChildren>> rpcs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Key2, ModelChildren> models_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, DeviceChildren> devices_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> forward_tokens_children_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Key2, prometheus::Counter*> verdict_children_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Key2, prometheus::Gauge*> last_kl_children_ ABSL_GUARDED_BY(mu_);
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_METRICS_H_
