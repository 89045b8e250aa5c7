#include "client/probe_commands.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace prunegate::client {
namespace {

constexpr size_t kNumWidth = 10;

// "KL@0.7  pred@0.7" per temperature (`prefix` "out " for the propagated outputs).
void AddKlColumns(const std::vector<double>& temperatures, const std::string& prefix,
                  bool with_pred, std::vector<Column>* columns) {
  for (double t : temperatures) {
    columns->push_back({absl::StrCat(prefix, "KL@", Temp(t)), kNumWidth});
    if (with_pred) columns->push_back({absl::StrCat(prefix, "pred@", Temp(t)), kNumWidth});
  }
}

void AddKlCells(const google::protobuf::RepeatedPtrField<v1::ProbStats>& probs, bool with_pred,
                std::vector<std::string>* cells) {
  for (const v1::ProbStats& p : probs) {
    cells->push_back(Num(p.kl()));
    if (with_pred) cells->push_back(Num(p.kl_pred()));
  }
}

std::string Weights(const v1::LayerRecord& record) {
  if (record.dropped()) return "dropped";
  return record.shared() ? "shared" : "own";
}

std::string Top1(const v1::LogitStats& logits) {
  if (logits.top1_agree()) return absl::StrCat("=", logits.top1_a());
  return absl::StrCat(logits.top1_a(), "/", logits.top1_b());
}

}  // namespace

FlagSet ProbeLayersFlags(ProbeLayersArgs* args) {
  FlagSet flags("probe-layers",
                "--baseline B --candidate C (--prompt TEXT | --ids 1,2,3) [--temperature 0.7,1.0] "
                "[--lens norm|raw] [--mode local|propagated] [--all-positions] [--decode-steps N]",
                "Walks the baseline's forward pass and compares, at every attention and MLP "
                "sublayer, the baseline's residual output with the candidate's (a dropped "
                "sublayer adds nothing), in hidden space and through the logit lens. One row per "
                "record as it arrives.");
  AddPairFlags(&flags, &args->pair);
  AddPromptFlags(&flags, &args->prompt);
  AddTemperatureFlag(&flags, &args->temperatures);
  flags.AddString("lens", &args->lens, "norm|raw",
                  "norm: final norm + LM head (default); raw: LM head only");
  flags.AddString("mode", &args->mode, "local|propagated",
                  "propagated also carries the candidate's state through the remaining baseline "
                  "layers (default local)");
  flags.AddBool("all-positions", &args->all_positions,
                "every prompt position (default: the last one)");
  flags.AddInt("decode-steps", &args->decode_steps, "N",
               "then probe N baseline-greedy decode steps");
  flags.AddInt("top-k", &args->top_k, "K", "k of the top-k overlap (default 10)");
  flags.AddBool("json", &args->json, "one JSON LayerRecord per line");
  return flags;
}

absl::StatusOr<v1::ProbeLayersRequest> ProbeLayersRequestFrom(const FlagSet& flags,
                                                              const ProbeLayersArgs& args) {
  v1::ProbeLayersRequest request;
  if (absl::Status s = SetPair(flags, args.pair, &request); !s.ok()) return s;
  absl::StatusOr<v1::Input> prompt = PromptInput(flags, args.prompt);
  if (!prompt.ok()) return prompt.status();
  absl::StatusOr<v1::Lens> lens = ParseChoice<v1::Lens>(
      "lens", args.lens, {{"norm", v1::NORM_HEAD}, {"raw", v1::RAW}}, v1::NORM_HEAD);
  if (!lens.ok()) return lens.status();
  absl::StatusOr<v1::LayerProbeMode> mode = ParseChoice<v1::LayerProbeMode>(
      "mode", args.mode, {{"local", v1::LOCAL}, {"propagated", v1::PROPAGATED}}, v1::LOCAL);
  if (!mode.ok()) return mode.status();
  *request.mutable_prompt() = *std::move(prompt);
  request.mutable_temperatures()->Add(args.temperatures.begin(), args.temperatures.end());
  request.set_lens(*lens);
  request.set_mode(*mode);
  request.set_all_positions(args.all_positions);
  request.set_decode_steps(static_cast<int32_t>(args.decode_steps));
  request.set_top_k(static_cast<int32_t>(args.top_k));
  return request;
}

Table LayerTable(const std::vector<double>& temperatures, bool propagated) {
  std::vector<Column> columns = {{"layer", 5},          {"sub", 4, true},     {"pos", 4},
                                 {"step", 4},           {"weights", 7, true}, {"h ang", kNumWidth},
                                 {"h pred", kNumWidth}, {"z ang", kNumWidth}};
  AddKlColumns(temperatures, "", /*with_pred=*/true, &columns);
  columns.push_back({"top1", 9});
  if (propagated) AddKlColumns(temperatures, "out ", /*with_pred=*/false, &columns);
  return Table(std::move(columns));
}

std::vector<std::string> LayerCells(const v1::LayerRecord& record, bool propagated) {
  std::vector<std::string> cells = {absl::StrCat(record.layer()),
                                    record.sublayer() == v1::ATTENTION ? "attn" : "mlp",
                                    absl::StrCat(record.position()),
                                    record.step() < 0 ? "-" : absl::StrCat(record.step()),
                                    Weights(record),
                                    Num(record.hidden().ang()),
                                    Num(record.hidden().ang_pred()),
                                    Num(record.logits().vector().ang())};
  AddKlCells(record.probs(), /*with_pred=*/true, &cells);
  cells.push_back(Top1(record.logits()));
  if (propagated && record.has_propagated()) {
    AddKlCells(record.propagated_probs(), /*with_pred=*/false, &cells);
  }
  return cells;
}

int RunProbeLayers(const std::vector<std::string>& args, CommandEnv env) {
  ProbeLayersArgs probe;
  v1::ProbeLayersRequest request;
  if (auto stop =
          ParseRequest(ProbeLayersFlags, ProbeLayersRequestFrom, args, &env, &probe, &request)) {
    return *stop;
  }
  const bool propagated = request.mode() == v1::PROPAGATED;
  const Table table = LayerTable(EffectiveTemperatures(probe.temperatures), propagated);
  if (!probe.json) *env.out << table.Header() << std::flush;
  return CallStream<v1::ProbeLayersRequest, v1::LayerRecord>(
      env, &v1::Prunegate::Stub::ProbeLayers, request,
      EventPrinter<v1::LayerRecord>(probe.json, env, [&](const v1::LayerRecord& record) {
        *env.out << table.Row(LayerCells(record, propagated));
      }));
}

FlagSet TraceFlags(TraceArgs* args) {
  FlagSet flags("trace",
                "--baseline B --candidate C --prompt TEXT [--mode free|teacher] [--steps N] "
                "[--sample-temperature T --seed S --top-k K --top-p P] [--temperature list] "
                "[--reference TEXT]",
                "Decodes with both models in lockstep and compares them at every step. free: "
                "each model samples its own tokens (same seed, same sampler); teacher: both are "
                "fed the baseline's tokens, or --reference. Prints each step as it arrives, then "
                "the first divergence and both continuations.");
  AddPairFlags(&flags, &args->pair);
  AddPromptFlags(&flags, &args->prompt);
  flags.AddString("mode", &args->mode, "free|teacher", "decode mode (default free)");
  flags.AddInt("steps", &args->steps, "N", "decode steps (default 32)");
  flags.AddDouble("sample-temperature", &args->sample_temperature, "T",
                  "sampling temperature of the decode (default 0 = greedy)");
  flags.AddInt("seed", &args->seed, "S", "sampler seed, the same for both models");
  flags.AddInt("top-k", &args->top_k, "K", "sample from the top K tokens (0 = off)");
  flags.AddDouble("top-p", &args->top_p, "P", "nucleus sampling (0 or 1 = off)");
  AddTemperatureFlag(&flags, &args->temperatures);
  flags.AddString("reference", &args->reference, "TEXT",
                  "teacher mode: feed this text instead of the baseline's tokens");
  flags.AddBool("ignore-eos", &args->ignore_eos, "keep decoding after an end-of-sequence token");
  flags.AddBool("json", &args->json, "one JSON TraceEvent per line");
  return flags;
}

absl::StatusOr<v1::TraceDecodeRequest> TraceRequestFrom(const FlagSet& flags,
                                                        const TraceArgs& args) {
  v1::TraceDecodeRequest request;
  if (absl::Status s = SetPair(flags, args.pair, &request); !s.ok()) return s;
  absl::StatusOr<v1::Input> prompt = PromptInput(flags, args.prompt);
  if (!prompt.ok()) return prompt.status();
  absl::StatusOr<v1::TraceMode> mode = ParseChoice<v1::TraceMode>(
      "mode", args.mode, {{"free", v1::FREE}, {"teacher", v1::TEACHER}}, v1::FREE);
  if (!mode.ok()) return mode.status();
  if (flags.IsSet("reference") && *mode != v1::TEACHER) {
    return absl::InvalidArgumentError("--reference needs --mode teacher");
  }
  *request.mutable_prompt() = *std::move(prompt);
  request.set_mode(*mode);
  request.set_max_steps(static_cast<int32_t>(args.steps));
  v1::Sampling* sampling = request.mutable_sampling();
  sampling->set_temperature(args.sample_temperature);
  sampling->set_top_k(static_cast<int32_t>(args.top_k));
  sampling->set_top_p(args.top_p);
  sampling->set_seed(static_cast<uint64_t>(args.seed));
  request.mutable_temperatures()->Add(args.temperatures.begin(), args.temperatures.end());
  if (flags.IsSet("reference")) request.mutable_reference()->set_text(args.reference);
  request.set_ignore_eos(args.ignore_eos);
  return request;
}

Table TraceTable(const std::vector<double>& temperatures) {
  std::vector<Column> columns = {{"step", 4},       {"pos", 4},           {"tok a", 6},
                                 {"tok b", 6},      {"text a", 12, true}, {"text b", 12, true},
                                 {"agree", 5, true}};
  AddKlColumns(temperatures, "", /*with_pred=*/true, &columns);
  return Table(std::move(columns));
}

std::vector<std::string> TraceCells(const v1::TraceStep& step) {
  std::vector<std::string> cells = {absl::StrCat(step.step()),    absl::StrCat(step.position()),
                                    absl::StrCat(step.token_a()), absl::StrCat(step.token_b()),
                                    Quoted(step.text_a()),        Quoted(step.text_b()),
                                    YesNo(step.agree())};
  AddKlCells(step.probs(), /*with_pred=*/true, &cells);
  return cells;
}

std::string TraceSummaryText(const v1::TraceSummary& summary) {
  const std::string divergence =
      summary.first_divergence() < 0 ? "none" : absl::StrCat("step ", summary.first_divergence());
  return absl::StrCat("\nsteps: ", summary.steps(), "  first divergence: ", divergence,
                      "  token agreement: ", Fixed(summary.token_agreement(), 3),
                      "  mean KL: ", Num(summary.mean_kl()),
                      "\nbaseline:  ", Quoted(summary.text_a()),
                      "\ncandidate: ", Quoted(summary.text_b()), "\n");
}

int RunTrace(const std::vector<std::string>& args, CommandEnv env) {
  TraceArgs trace;
  v1::TraceDecodeRequest request;
  if (auto stop = ParseRequest(TraceFlags, TraceRequestFrom, args, &env, &trace, &request)) {
    return *stop;
  }
  const Table table = TraceTable(EffectiveTemperatures(trace.temperatures));
  if (!trace.json) *env.out << table.Header() << std::flush;
  return CallStream<v1::TraceDecodeRequest, v1::TraceEvent>(
      env, &v1::Prunegate::Stub::TraceDecode, request,
      EventPrinter<v1::TraceEvent>(trace.json, env, [&](const v1::TraceEvent& event) {
        if (event.has_step()) *env.out << table.Row(TraceCells(event.step()));
        if (event.has_summary()) *env.out << TraceSummaryText(event.summary());
      }));
}

}  // namespace prunegate::client
