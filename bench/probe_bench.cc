// Cost of the probes against the work they replace, measured in the same run on a random-weight
// model (default: the Qwen2.5-0.5B shape, float32, CPU):
//  - local layer probe over all layers vs one plain baseline forward over the same tokens
//    (goal <= 3x), for a drop candidate (shared sublayers reused) and for an unshared copy;
//  - the naive method, one full forward pass per replaced sublayer (goal: probe >= 5x faster);
//  - a decode trace vs the two models' own decoding (goal: statistics add <= 15%).
// Last line: one JSON object.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_util.h"
#include "nlohmann/json.hpp"
#include "server/model/device.h"
#include "server/model/generate.h"
#include "server/model/session.h"
#include "server/probe/decode_trace.h"
#include "server/probe/layer_probe.h"
#include "server/prune/drop.h"
#include "torch/csrc/autograd/profiler_legacy.h"
#include "torch/torch.h"

ABSL_FLAG(int64_t, hidden, 896, "hidden size");
ABSL_FLAG(int64_t, intermediate, 4864, "MLP intermediate size");
ABSL_FLAG(int64_t, layers, 24, "decoder layers");
ABSL_FLAG(int64_t, heads, 14, "attention heads");
ABSL_FLAG(int64_t, kv_heads, 2, "key/value heads");
ABSL_FLAG(int64_t, vocab, 151936, "vocabulary size");
ABSL_FLAG(int64_t, tokens, 128, "prompt tokens probed");
ABSL_FLAG(int64_t, decode_steps, 16, "decode trace steps");
ABSL_FLAG(int, threads, 2, "compute threads");
ABSL_FLAG(std::string, profile_candidate, "unshared",
          "candidate of the PRUNEGATE_PROFILE trace: drop | unshared");
ABSL_FLAG(int, rounds, 3,
          "interleaved rounds of forward / drop probe / unshared probe, and of decoding alone / "
          "decode trace (at least 2; best of each)");
ABSL_FLAG(bool, naive, true, "also time the naive method (one forward per sublayer)");
ABSL_FLAG(bool, decode, true, "also time the decode trace");

using namespace prunegate;

namespace {
template <typename Fn>
double Best(int repeats, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const double t0 = bench::Now();
    fn();
    best = std::min(best, bench::Now() - t0);
  }
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  ReexecWithPassiveOpenMpWait(argv);
  absl::ParseCommandLine(argc, argv);
  SetComputeThreads(absl::GetFlag(FLAGS_threads));
  bench::ModelShape shape;
  shape.hidden = absl::GetFlag(FLAGS_hidden);
  shape.intermediate = absl::GetFlag(FLAGS_intermediate);
  shape.layers = absl::GetFlag(FLAGS_layers);
  shape.heads = absl::GetFlag(FLAGS_heads);
  shape.kv_heads = absl::GetFlag(FLAGS_kv_heads);
  shape.vocab = absl::GetFlag(FLAGS_vocab);
  auto base = bench::RandomModel(shape, 1).value();
  std::vector<int> half;
  for (int l = 0; l < shape.layers; l += 2) half.push_back(l);
  auto drop = prune::DropLayers(*base, prune::DropKind::kMlp, half).value();
  // An unshared candidate: every weight a separate (slightly perturbed) copy.
  ModelWeights w = base->weights();
  {
    torch::NoGradGuard g;
    for (LayerWeights& l : w.layers) {
      for (at::Tensor* t :
           {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj}) {
        *t = *t * 1.01;
      }
    }
  }
  auto copy = Model::FromWeights(base->config(), w).value();
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < absl::GetFlag(FLAGS_tokens); ++i) ids.push_back((i * 7919) % shape.vocab);

  c10::InferenceMode guard;
  auto run_forward = [&] {
    auto s = Session::Create(base).value();
    (void)s->Feed({ids}, LogitsMode::kLast).value();
  };
  auto run_probe = [&](std::shared_ptr<const Model> cand) {
    auto p = probe::LayerProbe::Create(base, cand, {}).value();
    (void)p->Feed(ids).value();
  };
  if (const char* trace = std::getenv("PRUNEGATE_PROFILE")) {  // Chrome trace of one probe
    torch::autograd::profiler::RecordProfile profile(trace);
    run_probe(absl::GetFlag(FLAGS_profile_candidate) == "drop" ? drop : copy);
  }
  // Interleaved rounds, best of each: a load change on a shared machine hits all three alike.
  double forward = 1e30, probe_drop = 1e30, probe_copy = 1e30;
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    forward = std::min(forward, Best(1, run_forward));
    probe_drop = std::min(probe_drop, Best(1, [&] { run_probe(drop); }));
    probe_copy = std::min(probe_copy, Best(1, [&] { run_probe(copy); }));
  }
  // Naive: one full forward per replaced sublayer (here: each sublayer dropped alone).
  const double naive = !absl::GetFlag(FLAGS_naive) ? 0 : Best(1, [&] {
    for (int l = 0; l < shape.layers; ++l) {
      for (auto kind : {prune::DropKind::kAttention, prune::DropKind::kMlp}) {
        auto m = prune::DropLayers(*base, kind, {l}).value();
        (void)Session::Create(m).value()->Feed({ids}, LogitsMode::kLast).value();
      }
    }
  });
  // Decode trace vs the two models' own decoding.
  const int64_t steps = absl::GetFlag(FLAGS_decode_steps);
  std::vector<int64_t> prompt(ids.begin(), ids.begin() + std::min<int64_t>(16, ids.size()));
  GenerateOptions g;
  g.max_new_tokens = steps;
  const bool decode = absl::GetFlag(FLAGS_decode);
  probe::TraceOptions to;
  to.max_steps = steps;
  to.temperatures = {0.2, 0.7, 1.0};
  // Interleaved as well (at least two rounds), best of each.
  double own = decode ? 1e30 : 0, trace = decode ? 1e30 : 0;
  for (int round = 0; decode && round < std::max(2, absl::GetFlag(FLAGS_rounds)); ++round) {
    own = std::min(own, Best(1, [&] {
                     (void)Generate(base, prompt, g).value();
                     (void)Generate(drop, prompt, g).value();
                   }));
    trace =
        std::min(trace, Best(1, [&] { (void)probe::TraceDecode(base, drop, prompt, to).value(); }));
  }

  std::printf("model: hidden %ld, %ld layers, vocab %ld; %ld tokens; %d threads\n", shape.hidden,
              shape.layers, shape.vocab, static_cast<int64_t>(ids.size()), TorchThreads());
  std::printf(
      "plain forward %.3f s; layer probe %.3f s (drop candidate, %.2fx), %.3f s "
      "(unshared copy, %.2fx; goal <= 3x)\n",
      forward, probe_drop, probe_drop / forward, probe_copy, probe_copy / forward);
  std::printf("naive (one forward per sublayer) %.3f s: probe is %.1fx faster (goal >= 5x)\n",
              naive, naive / probe_copy);
  std::printf(
      "decode %ld steps: both models alone %.3f s, trace %.3f s: statistics add %.1f%% "
      "(goal <= 15%%)\n",
      steps, own, trace, 100 * (trace / own - 1));
  std::cout << nlohmann::json({{"benchmark", "probes"},
                               {"forward_s", forward},
                               {"layer_probe_drop_s", probe_drop},
                               {"layer_probe_unshared_s", probe_copy},
                               {"layer_probe_over_forward", probe_copy / forward},
                               {"layer_probe_drop_over_forward", probe_drop / forward},
                               {"naive_s", naive},
                               {"naive_over_probe", naive / probe_copy},
                               {"decode_both_s", own},
                               {"decode_trace_s", trace},
                               {"trace_overhead", trace / own - 1}})
                   .dump()
            << std::endl;
  return 0;
}
