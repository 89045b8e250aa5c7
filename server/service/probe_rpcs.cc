// The sequence probes: ProbeLayers (one LayerRecord per step, layer, sublayer and position) and
// TraceDecode (a TraceStep per decode step as it is produced, then a TraceSummary).
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/model.h"
#include "server/probe/decode_trace.h"
#include "server/probe/layer_probe.h"
#include "server/service/convert.h"
#include "server/service/prunegate_service.h"
#include "server/service/request_inputs.h"

namespace prunegate::service {
namespace {

constexpr int64_t kDefaultTopK = 10;
constexpr int64_t kDefaultTraceSteps = 32;

absl::Status StreamCancelled(const char* rpc) {
  return absl::CancelledError(absl::StrCat(rpc, " was cancelled"));
}

// top_k of the statistics: 10 by default, at most the vocabulary.
absl::StatusOr<int64_t> ResolveTopK(int32_t top_k, const ModelPair& pair) {
  PG_ASSIGN_OR_RETURN(int64_t k, ResolvePositive(top_k, kDefaultTopK, "top_k"));
  const int64_t vocab = pair.baseline->model->config().vocab_size;
  if (k > vocab) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k ", k, " exceeds the vocabulary size ", vocab));
  }
  return k;
}

absl::StatusOr<probe::LayerProbeOptions> ResolveLayerOptions(const v1::ProbeLayersRequest& request,
                                                             const ModelPair& pair,
                                                             const RequestLimits& limits) {
  probe::LayerProbeOptions options;
  switch (request.lens()) {
    case v1::LENS_UNSPECIFIED:
    case v1::NORM_HEAD:
      options.lens = probe::Lens::kNormHead;
      break;
    case v1::RAW:
      options.lens = probe::Lens::kRaw;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("lens ", request.lens(), " is not NORM_HEAD or RAW"));
  }
  switch (request.mode()) {
    case v1::LAYER_PROBE_MODE_UNSPECIFIED:
    case v1::LOCAL:
      options.mode = probe::LayerProbeMode::kLocal;
      break;
    case v1::PROPAGATED:
      options.mode = probe::LayerProbeMode::kPropagated;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("mode ", request.mode(), " is not LOCAL or PROPAGATED"));
  }
  PG_ASSIGN_OR_RETURN(options.temperatures, ResolveTemperatures(request.temperatures(), limits));
  PG_ASSIGN_OR_RETURN(options.top_k, ResolveTopK(request.top_k(), pair));
  options.all_positions = request.all_positions();
  return options;
}

v1::LayerRecord ToLayerRecord(const probe::SublayerRecord& record, int step) {
  v1::LayerRecord out;
  out.set_layer(record.layer);
  out.set_sublayer(record.sublayer == Sublayer::kAttention ? v1::ATTENTION : v1::MLP);
  out.set_position(record.position);
  out.set_step(step);
  out.set_dropped(record.dropped);
  out.set_shared(record.shared);
  ToProto(record.hidden, out.mutable_hidden());
  ToProto(record.lens, out.mutable_logits(), out.mutable_probs());
  if (record.has_propagated) {
    out.set_has_propagated(true);
    ToProto(record.propagated_hidden, out.mutable_propagated_hidden());
    ToProto(record.propagated, out.mutable_propagated_logits(), out.mutable_propagated_probs());
  }
  return out;
}

absl::StatusOr<probe::TraceOptions> ResolveTraceOptions(const v1::TraceDecodeRequest& request,
                                                        const ModelPair& pair,
                                                        const RequestLimits& limits) {
  probe::TraceOptions options;
  switch (request.mode()) {
    case v1::TRACE_MODE_UNSPECIFIED:
    case v1::FREE:
      options.mode = probe::TraceMode::kFree;
      break;
    case v1::TEACHER:
      options.mode = probe::TraceMode::kTeacher;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("mode ", request.mode(), " is not FREE or TEACHER"));
  }
  PG_ASSIGN_OR_RETURN(options.max_steps,
                      ResolvePositive(request.max_steps(), kDefaultTraceSteps, "max_steps"));
  PG_RETURN_IF_ERROR(
      CheckLimit("max_steps", options.max_steps, limits.max_decode_steps, "--max-decode-steps"));
  const v1::Sampling& sampling = request.sampling();
  options.sampling.temperature = sampling.temperature();
  options.sampling.top_k = sampling.top_k();
  options.sampling.top_p = sampling.top_p() == 0 ? 1.0 : sampling.top_p();
  options.sampling.seed = sampling.seed();
  absl::Status valid_sampling = ValidateSamplingOptions(options.sampling);
  if (!valid_sampling.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("sampling: ", valid_sampling.message()));
  }
  PG_ASSIGN_OR_RETURN(options.temperatures, ResolveTemperatures(request.temperatures(), limits));
  PG_ASSIGN_OR_RETURN(options.top_k, ResolveTopK(request.top_k(), pair));
  if (request.has_reference()) {
    if (options.mode != probe::TraceMode::kTeacher) {
      return absl::InvalidArgumentError("reference is only used in TEACHER mode");
    }
    PG_ASSIGN_OR_RETURN(options.reference_ids,
                        ResolveInput(request.reference(), pair, limits, "reference"));
  }
  if (!request.ignore_eos()) options.stop_ids = StopIds(pair);
  return options;
}

v1::TraceSummary Summarize(const probe::TraceResult& result, const ModelPair& pair) {
  v1::TraceSummary summary;
  const int64_t steps = static_cast<int64_t>(result.steps.size());
  summary.set_steps(static_cast<int32_t>(steps));
  summary.set_first_divergence(static_cast<int32_t>(result.first_divergence));
  double agree = 0, kl = 0;
  for (const probe::TraceStep& step : result.steps) {
    agree += step.agree ? 1 : 0;
    if (!step.stats.probs.empty()) kl += step.stats.probs.front().kl;
  }
  summary.set_token_agreement(steps > 0 ? agree / steps : 0);
  summary.set_mean_kl(steps > 0 ? kl / steps : 0);
  summary.set_text_a(DecodeIds(pair, result.tokens_a, /*keep_special=*/false));
  summary.set_text_b(DecodeIds(pair, result.tokens_b, /*keep_special=*/false));
  for (int64_t id : result.tokens_a) summary.add_tokens_a(id);
  for (int64_t id : result.tokens_b) summary.add_tokens_b(id);
  return summary;
}

}  // namespace

absl::Status PrunegateService::RunProbeLayers(const v1::ProbeLayersRequest& request,
                                              StreamWriter<v1::LayerRecord>& out) {
  PG_ASSIGN_OR_RETURN(ModelPair pair,
                      ResolvePair(*registry_, request.baseline(), request.candidate()));
  PG_ASSIGN_OR_RETURN(std::vector<int64_t> feed,
                      ResolveInput(request.prompt(), pair, limits_, "prompt"));
  PG_ASSIGN_OR_RETURN(probe::LayerProbeOptions options,
                      ResolveLayerOptions(request, pair, limits_));
  if (request.decode_steps() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("decode_steps must be >= 0, got ", request.decode_steps()));
  }
  PG_RETURN_IF_ERROR(CheckLimit("decode_steps", request.decode_steps(), limits_.max_decode_steps,
                                "--max-decode-steps"));
  PG_ASSIGN_OR_RETURN(auto layer_probe, probe::LayerProbe::Create(pair.baseline->model,
                                                                  pair.candidate->model, options));
  const std::function<bool()> cancelled = out.CancelledFn();
  // Step -1 feeds the prompt; every later step feeds the baseline's greedy token.
  for (int step = -1; step < request.decode_steps(); ++step) {
    if (step >= 0) feed = {layer_probe->last_logits().argmax().item<int64_t>()};
    PG_ASSIGN_OR_RETURN(std::vector<probe::SublayerRecord> records,
                        layer_probe->Feed(feed, cancelled));
    CountForwardTokens(pair, static_cast<int64_t>(feed.size()));
    for (const probe::SublayerRecord& record : records) {
      if (!out.Write(ToLayerRecord(record, step))) return StreamCancelled("ProbeLayers");
    }
  }
  return absl::OkStatus();
}

absl::Status PrunegateService::RunTraceDecode(const v1::TraceDecodeRequest& request,
                                              StreamWriter<v1::TraceEvent>& out) {
  PG_ASSIGN_OR_RETURN(ModelPair pair,
                      ResolvePair(*registry_, request.baseline(), request.candidate()));
  PG_ASSIGN_OR_RETURN(std::vector<int64_t> prompt,
                      ResolveInput(request.prompt(), pair, limits_, "prompt"));
  PG_ASSIGN_OR_RETURN(probe::TraceOptions options, ResolveTraceOptions(request, pair, limits_));
  auto on_step = [&](const probe::TraceStep& step) {
    v1::TraceEvent event;
    v1::TraceStep* proto = event.mutable_step();
    proto->set_step(static_cast<int32_t>(step.step));
    proto->set_position(step.position);
    proto->set_token_a(step.token_a);
    proto->set_token_b(step.token_b);
    proto->set_text_a(DecodeIds(pair, {step.token_a}, /*keep_special=*/true));
    proto->set_text_b(DecodeIds(pair, {step.token_b}, /*keep_special=*/true));
    proto->set_agree(step.agree);
    ToProto(step.stats, proto->mutable_logits(), proto->mutable_probs());
    ToProto(step.hidden, proto->mutable_hidden());
    return out.Write(std::move(event));
  };
  PG_ASSIGN_OR_RETURN(probe::TraceResult result,
                      probe::TraceDecode(pair.baseline->model, pair.candidate->model, prompt,
                                         options, on_step, out.CancelledFn()));
  if (out.Cancelled()) return StreamCancelled("TraceDecode");
  const int64_t tokens = static_cast<int64_t>(prompt.size() + result.steps.size());
  CountForwardTokens(pair, tokens);
  v1::TraceEvent event;
  *event.mutable_summary() = Summarize(result, pair);
  metrics_->LastKl(pair.baseline->info.name, pair.candidate->info.name, event.summary().mean_kl());
  if (!out.Write(std::move(event))) return StreamCancelled("TraceDecode");
  return absl::OkStatus();
}

}  // namespace prunegate::service
