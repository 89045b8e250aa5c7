// Cost of the probes against the work they replace, measured in the same run on a random-weight
// model (default: the Qwen2.5-0.5B shape, float32, CPU):
//  - local layer probe over all layers vs one plain baseline forward over the same tokens
//    (goal <= 3x), for a drop candidate (shared sublayers reused) and for an unshared copy;
//  - the naive method, one full forward pass per replaced sublayer (goal: probe >= 5x faster);
//  - a decode trace vs the two models' own decoding (goal: statistics add <= 15%).
// Last line: one JSON object.
#include <cstdio>
#include <iostream>

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
  const double forward = Best(3, [&] {
    auto s = Session::Create(base).value();
    (void)s->Feed({ids}, LogitsMode::kLast).value();
  });
  auto probe_time = [&](std::shared_ptr<const Model> cand) {
    return Best(2, [&] {
      auto p = probe::LayerProbe::Create(base, cand, {}).value();
      (void)p->Feed(ids).value();
    });
  };
  if (const char* trace = std::getenv("PRUNEGATE_PROFILE")) {  // Chrome trace of one probe
    torch::autograd::profiler::RecordProfile profile(trace);
    auto p = probe::LayerProbe::Create(base, drop, {}).value();
    (void)p->Feed(ids).value();
  }
  const double probe_drop = probe_time(drop);
  const double probe_copy = probe_time(copy);
  // Naive: one full forward per replaced sublayer (here: each sublayer dropped alone).
  const double naive = Best(1, [&] {
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
  const double own = Best(2, [&] {
    (void)Generate(base, prompt, g).value();
    (void)Generate(drop, prompt, g).value();
  });
  probe::TraceOptions to;
  to.max_steps = steps;
  to.temperatures = {0.2, 0.7, 1.0};
  const double trace = Best(2, [&] { (void)probe::TraceDecode(base, drop, prompt, to).value(); });

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
                               {"naive_s", naive},
                               {"naive_over_probe", naive / probe_copy},
                               {"decode_both_s", own},
                               {"decode_trace_s", trace},
                               {"trace_overhead", trace / own - 1}})
                   .dump()
            << std::endl;
  return 0;
}
