// prunegate-train: trains the shipped model on a corpus written by prunegate-corpus with a
// tokenizer written by prunegate-train-bpe. Resumable: state is checkpointed every
// --checkpoint-every-s seconds, on SIGINT/SIGTERM and at the end; rerunning the same command
// continues where it stopped (same seed and data give the same run).
//
//   prunegate-train --corpus DIR --tokenizer DIR --work DIR --out MODEL_DIR [--steps N]
//       [--hidden 256 --layers 6 --heads 8 --kv-heads 2 --intermediate 704] [--seq-len 256]
//       [--batch 16] [--lr 3e-3] [--min-lr 3e-4] [--warmup 300] [--schedule-start 0]
//       [--answer-weight 3]
//       [--eval-every 500] [--eval-items 100] [--max-minutes M] [--threads 2] [--seed 1]
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/eval/evaluator.h"
#include "server/model/device.h"
#include "server/tasks/task_parser.h"
#include "tools/cli_flags.h"
#include "tools/train/corpus_reader.h"
#include "tools/train/trainer.h"
#include "torch/torch.h"

ABSL_FLAG(std::string, corpus, "", "corpus directory (train.txt, tasks/)");
ABSL_FLAG(std::string, tokenizer, "", "tokenizer directory (tokenizer.json, ...)");
ABSL_FLAG(std::string, work, "", "working directory: checkpoint/ and train_log.jsonl");
ABSL_FLAG(std::string, out, "", "where the final Hugging Face checkpoint is written");
ABSL_FLAG(int64_t, steps, 12000, "total optimizer steps");
ABSL_FLAG(int64_t, hidden, 256, "hidden size");
ABSL_FLAG(int64_t, layers, 6, "decoder layers");
ABSL_FLAG(int64_t, heads, 8, "attention heads");
ABSL_FLAG(int64_t, kv_heads, 2, "key/value heads (grouped-query attention)");
ABSL_FLAG(int64_t, intermediate, 704, "MLP intermediate size");
ABSL_FLAG(int64_t, seq_len, 256, "tokens per training row");
ABSL_FLAG(int64_t, batch, 16, "rows per step");
ABSL_FLAG(double, lr, 3e-3, "peak learning rate");
ABSL_FLAG(double, min_lr, 3e-4, "final learning rate (cosine)");
ABSL_FLAG(int64_t, warmup, 300, "warmup steps");
ABSL_FLAG(int64_t, schedule_start, 0,
          "step at which the warmup + cosine schedule starts (a later phase of a resumed run "
          "restarts it there)");
ABSL_FLAG(double, answer_weight, 3.0, "loss weight of answer tokens");
ABSL_FLAG(int64_t, eval_every, 500, "steps between held-out evaluations (0 = never)");
ABSL_FLAG(int64_t, eval_items, 100, "held-out items per task in each evaluation");
ABSL_FLAG(int64_t, checkpoint_every_s, 600, "seconds between checkpoints");
ABSL_FLAG(double, max_minutes, 0, "stop (after checkpointing) after this long; 0 = no limit");
ABSL_FLAG(int, threads, 2, "compute threads");
ABSL_FLAG(uint64_t, seed, 1, "initialisation and data-order seed");

namespace fs = std::filesystem;
using namespace prunegate;

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int Fail(const absl::Status& s) {
  std::cerr << "prunegate-train: " << s << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  prunegate::ReexecWithPassiveOpenMpWait(argv);
  std::vector<char*> args = cli::DashesToUnderscores(argc, argv);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  const fs::path corpus = absl::GetFlag(FLAGS_corpus), work = absl::GetFlag(FLAGS_work),
                 out = absl::GetFlag(FLAGS_out), tok_dir = absl::GetFlag(FLAGS_tokenizer);
  if (corpus.empty() || work.empty() || out.empty() || tok_dir.empty()) {
    std::cerr << "prunegate-train: --corpus, --tokenizer, --work and --out are required\n";
    return 1;
  }
  SetComputeThreads(absl::GetFlag(FLAGS_threads));
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  fs::create_directories(work);

  auto tokenizer = LoadTokenizer(tok_dir.string());
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  std::shared_ptr<const Tokenizer> tok(std::move(*tokenizer));
  std::ifstream in(corpus / "train.txt", std::ios::binary);
  if (!in) return Fail(absl::NotFoundError((corpus / "train.txt").string() + " is missing"));
  std::stringstream text;
  text << in.rdbuf();
  train::ReaderOptions reader;
  reader.answer_weight = static_cast<float>(absl::GetFlag(FLAGS_answer_weight));
  train::ReaderStats stats;
  const absl::Time t_read = absl::Now();
  auto docs = train::ReadDocuments(text.str(), *tok, reader, &stats);
  if (!docs.ok()) return Fail(docs.status());
  std::printf(
      "corpus: %ld documents, %ld tokens (%ld answer-weighted, %ld split mismatches), "
      "tokenized in %.0f s\n",
      stats.documents, stats.tokens, stats.weighted_tokens, stats.split_mismatches,
      absl::ToDoubleSeconds(absl::Now() - t_read));

  train::TrainOptions o;
  ModelConfig& c = o.model;
  c.architecture = Architecture::kLlama;
  c.vocab_size = tok->vocab_size();
  c.hidden_size = absl::GetFlag(FLAGS_hidden);
  c.num_hidden_layers = absl::GetFlag(FLAGS_layers);
  c.num_attention_heads = absl::GetFlag(FLAGS_heads);
  c.num_key_value_heads = absl::GetFlag(FLAGS_kv_heads);
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  c.max_position_embeddings = 512;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000;
  c.tie_word_embeddings = true;
  c.torch_dtype = "float32";
  if (tok->bos_id()) c.bos_token_ids = {*tok->bos_id()};
  if (tok->eos_id()) c.eos_token_ids = {*tok->eos_id()};
  o.seq_len = absl::GetFlag(FLAGS_seq_len);
  o.batch_size = absl::GetFlag(FLAGS_batch);
  o.total_steps = absl::GetFlag(FLAGS_steps);
  o.warmup_steps = absl::GetFlag(FLAGS_warmup);
  o.schedule_start = absl::GetFlag(FLAGS_schedule_start);
  o.lr = absl::GetFlag(FLAGS_lr);
  o.min_lr = absl::GetFlag(FLAGS_min_lr);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.separator_id = static_cast<int32_t>(tok->eos_id().value_or(0));

  const fs::path ckpt = work / "checkpoint";
  auto trainer = fs::exists(ckpt / "state.json")
                     ? train::Trainer::Resume(ckpt.string(), o, *std::move(docs))
                     : train::Trainer::Create(o, *std::move(docs));
  if (!trainer.ok()) return Fail(trainer.status());
  train::Trainer& t = **trainer;
  std::printf("model: %.2f M parameters; %ld rows of %ld tokens per epoch; starting at step %ld\n",
              t.model()->parameter_count() / 1e6, t.rows_per_epoch(), o.seq_len, t.step());

  auto suite = tasks::LoadTaskDir((corpus / "tasks").string());
  if (!suite.ok()) return Fail(suite.status());
  const tasks::TaskSuite quick = tasks::FirstItemsPerTask(*suite, absl::GetFlag(FLAGS_eval_items));
  std::ofstream log(work / "train_log.jsonl", std::ios::app);

  const auto start = absl::Now();
  auto last_ckpt = start;
  double window_tokens = 0, window_loss = 0;
  int64_t window_steps = 0;
  auto window_start = absl::Now();
  const double max_minutes = absl::GetFlag(FLAGS_max_minutes);
  while (t.step() < o.total_steps && !g_stop) {
    auto r = t.Step();
    if (!r.ok()) return Fail(r.status());
    window_tokens += r->tokens;
    window_loss += r->loss;
    ++window_steps;
    if (t.step() % 50 == 0) {
      const double secs = absl::ToDoubleSeconds(absl::Now() - window_start);
      nlohmann::json j = {{"step", t.step()},
                          {"loss", window_loss / window_steps},
                          {"lr", r->lr},
                          {"grad_norm", r->grad_norm},
                          {"tokens_seen", t.tokens_seen()},
                          {"tokens_per_s", window_tokens / secs}};
      std::printf("%s\n", j.dump().c_str());
      std::fflush(stdout);
      log << j.dump() << "\n" << std::flush;
      window_tokens = window_loss = 0;
      window_steps = 0;
      window_start = absl::Now();
    }
    const int64_t every = absl::GetFlag(FLAGS_eval_every);
    if (every > 0 && t.step() % every == 0) {
      eval::Runner runner{t.model(), tok, 32};
      auto report = eval::Evaluate(runner, quick, {});
      if (!report.ok()) return Fail(report.status());
      nlohmann::json j = nlohmann::json::parse(eval::ReportJson(*report));
      j["step"] = t.step();
      std::printf("eval %s\n", j.dump().c_str());
      log << j.dump() << "\n" << std::flush;
    }
    const bool out_of_time =
        max_minutes > 0 && absl::ToDoubleMinutes(absl::Now() - start) >= max_minutes;
    if (absl::ToDoubleSeconds(absl::Now() - last_ckpt) >= absl::GetFlag(FLAGS_checkpoint_every_s) ||
        out_of_time) {
      if (auto s = t.SaveCheckpoint(ckpt.string()); !s.ok()) return Fail(s);
      last_ckpt = absl::Now();
      std::printf("checkpoint at step %ld\n", t.step());
    }
    if (out_of_time) break;
  }
  if (auto s = t.SaveCheckpoint(ckpt.string()); !s.ok()) return Fail(s);
  if (auto s = t.ExportModel(out.string()); !s.ok()) return Fail(s);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    if (fs::exists(tok_dir / f))
      fs::copy_file(tok_dir / f, out / f, fs::copy_options::overwrite_existing);
  }
  std::printf("step %ld of %ld; model written to %s\n", t.step(), o.total_steps, out.c_str());
  return 0;
}
