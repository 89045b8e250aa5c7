#include "server/service/metrics.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/string_view.h"

#ifndef PRUNEGATE_VERSION
#error "PRUNEGATE_VERSION must be defined by the build (server/service/metrics.cmake)"
#endif

namespace prunegate::service {
namespace {

constexpr const char* kGrpcCodeNames[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
constexpr int kGrpcUnknown = 2;

// prunegate.v1.Verdict outcomes.
constexpr const char* kVerdictNames[] = {"SAFE", "RISKY", "UNSAFE"};

int NormalizedCode(int grpc_code) {
  return grpc_code >= 0 && grpc_code < static_cast<int>(std::size(kGrpcCodeNames)) ? grpc_code
                                                                                   : kGrpcUnknown;
}

// "/prunegate.v1.Prunegate/Assess" -> "Assess"; a bare method name is returned as is.
absl::string_view MethodName(absl::string_view rpc) {
  size_t slash = rpc.rfind('/');
  return slash == absl::string_view::npos ? rpc : rpc.substr(slash + 1);
}

// Erases the entries of `children` whose key `keep` rejects, calling `remove` on each first.
template <typename Map, typename Keep, typename Remove>
void EraseUnless(Map& children, const Keep& keep, const Remove& remove) {
  for (auto it = children.begin(); it != children.end();) {
    if (keep(it->first)) {
      ++it;
      continue;
    }
    remove(it->second);
    children.erase(it++);
  }
}

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}
prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry, const char* name,
                                                   const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

}  // namespace

std::string MetricsOptions::DefaultVersion() { return PRUNEGATE_VERSION; }

std::vector<std::string> MetricsOptions::DefaultStreamingRpcs() {
  return {"ProbeLayers", "TraceDecode", "ProbeChoices", "ProbeEmbeddings",
          "SummarizeKl", "RankLayers",  "Assess"};
}

const std::vector<double>& RpcLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,   0.25,   0.5,   1,    2.5,   5,
                                               10,    30,     60,    120,  300,   600};
  return kBuckets;
}

const char* GrpcCodeName(int grpc_code) { return kGrpcCodeNames[NormalizedCode(grpc_code)]; }

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry)
    : Metrics(std::move(registry), MetricsOptions()) {}

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry, MetricsOptions options)
    : registry_(std::move(registry)),
      streaming_rpcs_(options.streaming_rpcs.begin(), options.streaming_rpcs.end()),
      requests_(CounterFamily(*registry_, "prunegate_rpc_requests_total",
                              "RPCs finished, by method and gRPC status code name.")),
      latency_(prometheus::BuildHistogram()
                   .Name("prunegate_rpc_latency_seconds")
                   .Help("RPC duration in seconds from start to final status, by method.")
                   .Register(*registry_)),
      streamed_(CounterFamily(*registry_, "prunegate_streamed_messages_total",
                              "Messages written on server streams, by method.")),
      inflight_requests_(GaugeFamily(*registry_, "prunegate_inflight_requests",
                                     "RPCs started and not yet finished, by method.")),
      inflight_streams_(GaugeFamily(*registry_, "prunegate_inflight_streams",
                                    "Server-streaming RPCs started and not yet finished.")
                            .Add({})),
      models_resident_(GaugeFamily(*registry_, "prunegate_models_resident",
                                   "Models resident and READY, by device.")),
      model_bytes_resident_(GaugeFamily(*registry_, "prunegate_model_bytes_resident",
                                        "Bytes of tensor storage a resident model references.")),
      model_bytes_shared_(
          GaugeFamily(*registry_, "prunegate_model_bytes_shared",
                      "Bytes of a resident model's tensor storage shared with its baseline.")),
      device_bytes_resident_(
          GaugeFamily(*registry_, "prunegate_device_bytes_resident",
                      "Bytes of tensor storage resident per device, shared storage counted once.")),
      forward_tokens_(CounterFamily(*registry_, "prunegate_forward_tokens_total",
                                    "Tokens run through a model's forward pass.")),
      verdicts_(CounterFamily(*registry_, "prunegate_verdicts_total",
                              "Verdicts given, by task type and outcome.")),
      last_kl_(GaugeFamily(*registry_, "prunegate_last_kl",
                           "Mean KL(baseline || candidate) of the most recent probe of a pair.")) {
  static_assert(std::size(kGrpcCodeNames) == kNumGrpcCodes, "one request counter per gRPC code");
  GaugeFamily(*registry_, "prunegate_build_info", "Always 1; the version label names the build.")
      .Add({{"version", options.version}})
      .Set(1);
}

std::shared_ptr<prometheus::Registry> Metrics::registry() const { return registry_; }

Metrics::RpcChildren& Metrics::Rpc(const std::string& rpc) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = rpcs_.find(rpc);
    if (it != rpcs_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<RpcChildren>& slot = rpcs_[rpc];
  if (slot == nullptr) {
    auto children = std::make_unique<RpcChildren>();
    children->streaming = streaming_rpcs_.contains(MethodName(rpc));
    prometheus::Labels labels = {{"rpc", rpc}};
    children->inflight = &inflight_requests_.Add(labels);
    children->latency = &latency_.Add(labels, RpcLatencyBuckets());
    children->streamed = &streamed_.Add(labels);
    // Exported at 0 from the first call, so rate() over the success series starts at once.
    children->by_code[0].store(&requests_.Add({{"rpc", rpc}, {"code", kGrpcCodeNames[0]}}),
                               std::memory_order_release);
    slot = std::move(children);
  }
  return *slot;
}

prometheus::Counter& Metrics::RequestCounter(const std::string& rpc, RpcChildren& children,
                                             int code) {
  std::atomic<prometheus::Counter*>& slot = children.by_code[code];
  if (prometheus::Counter* counter = slot.load(std::memory_order_acquire)) return *counter;
  absl::MutexLock lock(&mu_);
  prometheus::Counter* counter = slot.load(std::memory_order_relaxed);
  if (counter == nullptr) {
    counter = &requests_.Add({{"rpc", rpc}, {"code", kGrpcCodeNames[code]}});
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

void Metrics::RpcStarted(const std::string& rpc) {
  RpcChildren& children = Rpc(rpc);
  children.inflight->Increment();
  if (children.streaming) inflight_streams_.Increment();
}

void Metrics::RpcFinished(const std::string& rpc, int grpc_code, double seconds) {
  RpcChildren& children = Rpc(rpc);
  RequestCounter(rpc, children, NormalizedCode(grpc_code)).Increment();
  children.latency->Observe(seconds >= 0 ? seconds : 0);  // NaN compares false too
  children.inflight->Decrement();
  if (children.streaming) inflight_streams_.Decrement();
}

void Metrics::MessageStreamed(const std::string& rpc) { Rpc(rpc).streamed->Increment(); }

void Metrics::SetModels(const std::vector<ModelSample>& models) {
  // Later samples of the same (model, device) replace earlier ones.
  absl::flat_hash_map<Key2, const ModelSample*> latest;
  for (const ModelSample& sample : models) latest[{sample.model, sample.device}] = &sample;

  struct DeviceTotals {
    int64_t ready = 0;
    int64_t bytes = 0;
  };
  absl::flat_hash_map<std::string, DeviceTotals> totals;
  absl::flat_hash_set<std::string> names;
  for (const auto& [key, sample] : latest) {
    DeviceTotals& device = totals[sample->device];
    device.ready += sample->ready ? 1 : 0;
    device.bytes += std::max<int64_t>(0, sample->bytes_resident - sample->bytes_shared);
    names.insert(sample->model);
  }

  absl::MutexLock lock(&mu_);
  EraseUnless(
      models_, [&](const Key2& key) { return latest.contains(key); },
      [this](const ModelChildren& children) {
        model_bytes_resident_.Remove(children.bytes_resident);
        model_bytes_shared_.Remove(children.bytes_shared);
      });
  for (const auto& [key, sample] : latest) {
    ModelChildren& children = models_[key];
    if (children.bytes_resident == nullptr) {
      prometheus::Labels labels = {{"model", sample->model}, {"device", sample->device}};
      children.bytes_resident = &model_bytes_resident_.Add(labels);
      children.bytes_shared = &model_bytes_shared_.Add(labels);
    }
    children.bytes_resident->Set(static_cast<double>(sample->bytes_resident));
    children.bytes_shared->Set(static_cast<double>(sample->bytes_shared));
  }

  EraseUnless(
      devices_, [&](const std::string& device) { return totals.contains(device); },
      [this](const DeviceChildren& children) {
        models_resident_.Remove(children.models);
        device_bytes_resident_.Remove(children.bytes);
      });
  for (const auto& [device, total] : totals) {
    DeviceChildren& children = devices_[device];
    if (children.models == nullptr) {
      prometheus::Labels labels = {{"device", device}};
      children.models = &models_resident_.Add(labels);
      children.bytes = &device_bytes_resident_.Add(labels);
    }
    children.models->Set(static_cast<double>(total.ready));
    children.bytes->Set(static_cast<double>(total.bytes));
  }

  PruneModelSeries(names);
}

void Metrics::PruneModelSeries(const absl::flat_hash_set<std::string>& resident) {
  EraseUnless(
      forward_tokens_children_, [&](const std::string& model) { return resident.contains(model); },
      [this](prometheus::Counter* counter) { forward_tokens_.Remove(counter); });
  EraseUnless(
      last_kl_children_,
      [&](const Key2& pair) {
        return resident.contains(pair.first) && resident.contains(pair.second);
      },
      [this](prometheus::Gauge* gauge) { last_kl_.Remove(gauge); });
}

template <typename Map, typename Make, typename Update>
void Metrics::UpdateChild(Map& children, const typename Map::key_type& key, const Make& make,
                          const Update& update) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = children.find(key);
    if (it != children.end()) {
      update(*it->second);
      return;
    }
  }
  absl::MutexLock lock(&mu_);
  auto it = children.find(key);
  if (it == children.end()) it = children.emplace(key, make()).first;
  update(*it->second);
}

void Metrics::ForwardTokens(const std::string& model, int64_t tokens) {
  if (tokens < 0) return;
  UpdateChild(
      forward_tokens_children_, model,
      [&] {
        return &forward_tokens_.Add({{"model", model}});
      },
      [&](prometheus::Counter& counter) { counter.Increment(static_cast<double>(tokens)); });
}

void Metrics::VerdictGiven(const std::string& task, const std::string& verdict) {
  auto make = [&] {
    // The first verdict of a task also exports its other outcomes at 0, so that increase() sees
    // their first count (an alert on UNSAFE must not miss it).
    for (const char* outcome : kVerdictNames) {
      if (outcome == verdict) continue;
      Key2 sibling(task, outcome);
      if (!verdict_children_.contains(sibling)) {
        verdict_children_.emplace(sibling, &verdicts_.Add({{"task", task}, {"verdict", outcome}}));
      }
    }
    return &verdicts_.Add({{"task", task}, {"verdict", verdict}});
  };
  UpdateChild(verdict_children_, Key2(task, verdict), make,
              [](prometheus::Counter& counter) { counter.Increment(); });
}

void Metrics::LastKl(const std::string& baseline, const std::string& candidate, double kl) {
  UpdateChild(
      last_kl_children_, Key2(baseline, candidate),
      [&] {
        return &last_kl_.Add({{"baseline", baseline}, {"candidate", candidate}});
      },
      [kl](prometheus::Gauge& gauge) { gauge.Set(kl); });
}

}  // namespace prunegate::service
