// Decode and prefill throughput of the engine on a random-weight model (default: the
// Qwen2.5-0.5B shape, float32, CPU), next to the weight-streaming bound measured in the same run:
// bound tokens/s = measured read bandwidth / bytes of weights read per decode token.
// Goal: decode >= 60% of the bound. Last line: one JSON object.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_util.h"
#include "nlohmann/json.hpp"
#include "server/model/device.h"
#include "server/model/session.h"
#include "torch/torch.h"

ABSL_FLAG(std::string, arch, "qwen2", "llama | mistral | qwen2");
ABSL_FLAG(int64_t, hidden, 896, "hidden size");
ABSL_FLAG(int64_t, intermediate, 4864, "MLP intermediate size");
ABSL_FLAG(int64_t, layers, 24, "decoder layers");
ABSL_FLAG(int64_t, heads, 14, "attention heads");
ABSL_FLAG(int64_t, kv_heads, 2, "key/value heads");
ABSL_FLAG(int64_t, vocab, 151936, "vocabulary size");
ABSL_FLAG(bool, tied, true, "tie the LM head to the embedding");
ABSL_FLAG(std::string, dtype, "float32", "float32 | bfloat16");
ABSL_FLAG(int, threads, 2, "compute threads (libtorch + OpenBLAS) and bandwidth threads");
ABSL_FLAG(int64_t, prompt_tokens, 128, "prefill length");
ABSL_FLAG(int64_t, decode_tokens, 32, "decode steps timed");
ABSL_FLAG(int, repeats, 3, "timed repetitions (best is reported)");

using namespace prunegate;

namespace {
// Timestamps every sublayer so a decode step splits into attention, MLP and embedding + head.
class TimingTap : public SublayerTap {
 public:
  void OnSublayer(int, Sublayer, const at::Tensor&, at::Tensor&) override {
    stamps.push_back(bench::Now());
  }
  std::vector<double> stamps;
};
}  // namespace

int main(int argc, char** argv) {
  prunegate::ReexecWithPassiveOpenMpWait(argv);
  absl::ParseCommandLine(argc, argv);
  const int threads = absl::GetFlag(FLAGS_threads);
  SetComputeThreads(threads);
  bench::ModelShape shape;
  shape.architecture = absl::GetFlag(FLAGS_arch);
  shape.hidden = absl::GetFlag(FLAGS_hidden);
  shape.intermediate = absl::GetFlag(FLAGS_intermediate);
  shape.layers = absl::GetFlag(FLAGS_layers);
  shape.heads = absl::GetFlag(FLAGS_heads);
  shape.kv_heads = absl::GetFlag(FLAGS_kv_heads);
  shape.vocab = absl::GetFlag(FLAGS_vocab);
  shape.tied = absl::GetFlag(FLAGS_tied);
  shape.dtype = absl::GetFlag(FLAGS_dtype);
  auto model = bench::RandomModel(shape, 1);
  if (!model.ok()) {
    std::cerr << model.status() << "\n";
    return 1;
  }
  const int64_t prompt_n = absl::GetFlag(FLAGS_prompt_tokens);
  const int64_t decode_n = absl::GetFlag(FLAGS_decode_tokens);
  const int repeats = absl::GetFlag(FLAGS_repeats);

  std::vector<int64_t> prompt;
  for (int64_t i = 0; i < prompt_n; ++i) prompt.push_back((i * 7919) % shape.vocab);

  double best_prefill = 1e30, best_decode = 1e30;
  for (int r = 0; r < repeats + 1; ++r) {  // first round warms up
    auto session = Session::Create(*model).value();
    c10::InferenceMode guard;
    double t0 = bench::Now();
    at::Tensor logits = session->Feed({prompt}, LogitsMode::kLast).value();
    double t1 = bench::Now();
    int64_t next = logits[0].argmax().item<int64_t>();
    const double t2 = bench::Now();
    for (int64_t i = 0; i < decode_n; ++i) {
      logits = session->Step({next}).value();
      next = logits[0].argmax().item<int64_t>();
    }
    const double t3 = bench::Now();
    if (r == 0) continue;
    best_prefill = std::min(best_prefill, t1 - t0);
    best_decode = std::min(best_decode, t3 - t2);
  }
  // Where a decode step's time goes (one more instrumented pass over decode_n steps).
  double attention_s = 0, mlp_s = 0, rest_s = 0;
  {
    auto session = Session::Create(*model).value();
    c10::InferenceMode guard;
    at::Tensor logits = session->Feed({prompt}, LogitsMode::kLast).value();
    int64_t next = logits[0].argmax().item<int64_t>();
    for (int64_t i = 0; i < decode_n; ++i) {
      TimingTap tap;
      const double t0 = bench::Now();
      logits = session->Step({next}, &tap).value();
      next = logits[0].argmax().item<int64_t>();
      const double t1 = bench::Now();
      double prev = t0;
      for (size_t k = 0; k < tap.stamps.size(); ++k) {
        (k % 2 == 0 ? attention_s : mlp_s) += tap.stamps[k] - prev;
        prev = tap.stamps[k];
      }
      rest_s += t1 - prev;
    }
  }
  // Bandwidth measured after the timed runs, in the same process and with the same threads.
  const double bandwidth = bench::MeasureReadBandwidth(threads);
  const int64_t bytes_per_token = bench::DecodeWeightBytes(**model);
  const double bound = bandwidth / static_cast<double>(bytes_per_token);
  const double decode_tps = decode_n / best_decode;
  const double prefill_tps = prompt_n / best_prefill;

  std::printf(
      "model: %s hidden %ld, intermediate %ld, %ld layers, %ld/%ld heads, vocab %ld, %s, "
      "%.1f M parameters\n",
      shape.architecture.c_str(), shape.hidden, shape.intermediate, shape.layers, shape.heads,
      shape.kv_heads, shape.vocab, shape.dtype.c_str(), (*model)->parameter_count() / 1e6);
  std::printf("threads: libtorch %d, OpenBLAS %d\n", TorchThreads(), BlasThreads());
  std::printf("read bandwidth: %.2f GB/s; weights streamed per decode token: %.1f MB\n",
              bandwidth / 1e9, bytes_per_token / 1e6);
  std::printf("prefill: %.1f tokens/s (%ld-token prompt)\n", prefill_tps, prompt_n);
  std::printf(
      "decode:  %.2f tokens/s; weight-streaming bound %.2f tokens/s; %.0f%% of bound "
      "(goal >= 60%%)\n",
      decode_tps, bound, 100 * decode_tps / bound);
  std::printf(
      "decode step breakdown: attention %.1f ms, MLP %.1f ms, final norm + LM head + "
      "argmax %.1f ms\n",
      1e3 * attention_s / decode_n, 1e3 * mlp_s / decode_n, 1e3 * rest_s / decode_n);
  nlohmann::json j = {{"benchmark", "decode"},
                      {"arch", shape.architecture},
                      {"hidden", shape.hidden},
                      {"intermediate", shape.intermediate},
                      {"layers", shape.layers},
                      {"heads", shape.heads},
                      {"kv_heads", shape.kv_heads},
                      {"vocab", shape.vocab},
                      {"dtype", shape.dtype},
                      {"threads", threads},
                      {"parameters", (*model)->parameter_count()},
                      {"prompt_tokens", prompt_n},
                      {"decode_tokens", decode_n},
                      {"prefill_tokens_per_s", prefill_tps},
                      {"decode_tokens_per_s", decode_tps},
                      {"read_bandwidth_gb_s", bandwidth / 1e9},
                      {"weight_bytes_per_token", bytes_per_token},
                      {"bound_tokens_per_s", bound},
                      {"decode_fraction_of_bound", decode_tps / bound},
                      {"decode_ms_attention", 1e3 * attention_s / decode_n},
                      {"decode_ms_mlp", 1e3 * mlp_s / decode_n},
                      {"decode_ms_head", 1e3 * rest_s / decode_n}};
  std::cout << j.dump() << std::endl;
  return 0;
}
