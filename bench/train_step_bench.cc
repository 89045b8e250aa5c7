// Training-step throughput of the trainer's model shape on CPU: forward, backward and optimizer
// time per step, tokens/s. Last line: one JSON object.
#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/bench_util.h"
#include "nlohmann/json.hpp"
#include "server/model/device.h"
#include "server/model/transformer.h"
#include "tools/train/trainer.h"
#include "torch/csrc/autograd/profiler_legacy.h"
#include "torch/torch.h"

ABSL_FLAG(int64_t, hidden, 256, "hidden size");
ABSL_FLAG(int64_t, layers, 6, "layers");
ABSL_FLAG(int64_t, heads, 8, "heads");
ABSL_FLAG(int64_t, kv_heads, 2, "kv heads");
ABSL_FLAG(int64_t, intermediate, 704, "intermediate");
ABSL_FLAG(int64_t, vocab, 1536, "vocabulary");
ABSL_FLAG(int64_t, seq_len, 256, "row length");
ABSL_FLAG(int64_t, batch, 16, "rows per step");
ABSL_FLAG(int64_t, steps, 5, "timed steps");
ABSL_FLAG(int, threads, 2, "compute threads");

using namespace prunegate;

int main(int argc, char** argv) {
  prunegate::ReexecWithPassiveOpenMpWait(argv);
  absl::ParseCommandLine(argc, argv);
  SetComputeThreads(absl::GetFlag(FLAGS_threads));
  train::TrainOptions o;
  ModelConfig& c = o.model;
  c.vocab_size = absl::GetFlag(FLAGS_vocab);
  c.hidden_size = absl::GetFlag(FLAGS_hidden);
  c.num_hidden_layers = absl::GetFlag(FLAGS_layers);
  c.num_attention_heads = absl::GetFlag(FLAGS_heads);
  c.num_key_value_heads = absl::GetFlag(FLAGS_kv_heads);
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  c.max_position_embeddings = 1024;
  c.tie_word_embeddings = true;
  o.seq_len = absl::GetFlag(FLAGS_seq_len);
  o.batch_size = absl::GetFlag(FLAGS_batch);
  o.total_steps = 1000;
  std::vector<train::Document> docs;
  for (int d = 0; d < 2000; ++d) {
    train::Document doc;
    for (int i = 0; i < 100; ++i) {
      doc.ids.push_back((d * 31 + i * 7) % c.vocab_size);
      doc.weights.push_back(1.0f);
    }
    docs.push_back(std::move(doc));
  }
  auto trainer = train::Trainer::Create(o, std::move(docs)).value();
  trainer->Step().value();  // warm-up
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  if (const char* trace = std::getenv("PRUNEGATE_PROFILE")) {
    torch::autograd::profiler::RecordProfile guard(trace);
    trainer->Step().value();
  }
  const double t0 = bench::Now();
  for (int64_t i = 0; i < steps; ++i) trainer->Step().value();
  const double per_step = (bench::Now() - t0) / steps;

  // Forward alone, same batch shape, for the split.
  const int64_t b = o.batch_size, l = o.seq_len;
  at::Tensor ids = torch::randint(c.vocab_size, {b, l}, torch::kLong);
  ForwardInput in{ids, torch::arange(l, torch::kLong).expand({b, l}), at::Tensor()};
  const double f0 = bench::Now();
  at::Tensor logits =
      Transformer::Logits(*trainer->model(), Transformer::Forward(*trainer->model(), in, nullptr));
  at::Tensor loss = logits.logsumexp(-1).mean();
  const double f1 = bench::Now();
  loss.backward();
  const double f2 = bench::Now();
  const double tps = b * l / per_step;
  std::printf("model %.2f M parameters, batch %ld x %ld, %d threads\n",
              trainer->model()->parameter_count() / 1e6, b, l, TorchThreads());
  std::printf("OpenBLAS threads %d\n", BlasThreads());
  std::printf("step %.2f s (%.0f tokens/s); forward %.2f s, backward %.2f s\n", per_step, tps,
              f1 - f0, f2 - f1);
  std::cout << nlohmann::json({{"benchmark", "train_step"},
                               {"seconds_per_step", per_step},
                               {"tokens_per_s", tps},
                               {"forward_s", f1 - f0},
                               {"backward_s", f2 - f1},
                               {"parameters", trainer->model()->parameter_count()}})
                   .dump()
            << std::endl;
  return 0;
}
