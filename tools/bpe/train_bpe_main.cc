// prunegate-train-bpe: trains a byte-level BPE tokenizer on a text corpus and writes it as a
// Hugging Face tokenizer (tokenizer.json, tokenizer_config.json, special_tokens_map.json).
//
//   prunegate-train-bpe --corpus FILE --vocab-size N --out DIR [--max-bytes N] [--threads N]
//       [--min-frequency N] [--stats-bytes N]
//
// Prints one JSON line: sizes, timings, and tokenization statistics measured by loading the
// written files with prunegate::LoadTokenizer and encoding the first --stats-bytes of the
// corpus. Errors go to stderr with exit code 1. See tools/bpe/README.md.
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "nlohmann/json.hpp"
#include "server/model/tokenizer.h"
#include "tools/bpe/bpe_trainer.h"
#include "tools/bpe/tokenizer_files.h"
#include "tools/bpe/tokenizer_stats.h"
#include "tools/bpe/word_counts.h"
#include "tools/cli_flags.h"

ABSL_FLAG(std::string, corpus, "", "UTF-8 text file to train on");
ABSL_FLAG(int, vocab_size, 1536, "total vocabulary: 256 bytes + merges + 2 special tokens");
ABSL_FLAG(std::string, out, "", "output directory (created if needed)");
ABSL_FLAG(int64_t, max_bytes, 0, "train on at most this many bytes of the corpus; 0 = all");
ABSL_FLAG(int, threads, 2, "threads for pre-tokenization");
ABSL_FLAG(int64_t, min_frequency, 2, "stop when no pair occurs this often");
ABSL_FLAG(int64_t, stats_bytes, 4 << 20, "bytes of the corpus to measure tokenization on");

namespace {

int Fail(const std::string& message) {
  std::cerr << "prunegate-train-bpe: " << message << "\n";
  return 1;
}

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The first `max_bytes` of the file (all when 0), cut back to a document boundary.
bool ReadCorpus(const std::string& path, int64_t max_bytes, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  int64_t size = in.tellg();
  in.seekg(0);
  if (max_bytes > 0 && size > max_bytes) size = max_bytes;
  text->resize(static_cast<size_t>(size));
  in.read(text->data(), size);
  if (in.gcount() != size) return false;
  if (max_bytes > 0 && static_cast<int64_t>(text->size()) == max_bytes) {
    const size_t cut = text->rfind("\n\n");
    if (cut != std::string::npos) text->resize(cut + 1);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Train a byte-level BPE tokenizer.\n  prunegate-train-bpe --corpus FILE --vocab-size N "
      "--out DIR [--max-bytes N] [--threads N]\nFlags accept dashes or underscores.");
  std::vector<char*> args = prunegate::cli::DashesToUnderscores(argc, argv);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  const std::string corpus = absl::GetFlag(FLAGS_corpus);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (corpus.empty() || out.empty()) return Fail("--corpus FILE and --out DIR are required");

  const auto start = std::chrono::steady_clock::now();
  std::string text;
  if (!ReadCorpus(corpus, absl::GetFlag(FLAGS_max_bytes), &text)) {
    return Fail("cannot read " + corpus);
  }
  auto counter = prunegate::bpe::WordCounter::Create();
  if (!counter.ok()) return Fail(counter.status().ToString());
  if (auto s = counter->Add(text, absl::GetFlag(FLAGS_threads)); !s.ok()) {
    return Fail(corpus + ": " + s.ToString());
  }
  const double count_seconds = Since(start);

  prunegate::bpe::BpeTrainerOptions options;
  options.vocab_size = absl::GetFlag(FLAGS_vocab_size);
  options.min_frequency = absl::GetFlag(FLAGS_min_frequency);
  const auto merge_start = std::chrono::steady_clock::now();
  auto bpe = prunegate::bpe::TrainBpe(counter->counts(), options);
  if (!bpe.ok()) return Fail(bpe.status().ToString());
  const double merge_seconds = Since(merge_start);

  prunegate::bpe::TokenizerFileOptions file_options;
  file_options.split_pattern = prunegate::bpe::kSplitPattern;
  if (auto s = prunegate::bpe::WriteTokenizerFiles(*bpe, file_options, out); !s.ok()) {
    return Fail(s.ToString());
  }
  const double train_seconds = Since(start);

  auto tokenizer = prunegate::LoadTokenizer(out);
  if (!tokenizer.ok())
    return Fail("the written tokenizer does not load: " + tokenizer.status().ToString());
  std::string sample = text.substr(0, static_cast<size_t>(absl::GetFlag(FLAGS_stats_bytes)));
  if (sample.size() < text.size()) {
    const size_t cut = sample.rfind("\n\n");
    if (cut != std::string::npos) sample.resize(cut);
  }
  auto stats = prunegate::bpe::MeasureTokenization(**tokenizer, sample);
  if (!stats.ok()) return Fail(stats.status().ToString());

  nlohmann::ordered_json summary = {{"out", out},
                                    {"corpus_bytes", text.size()},
                                    {"pieces", counter->total_pieces()},
                                    {"distinct_pieces", counter->counts().size()},
                                    {"vocab_size", bpe->vocab_size()},
                                    {"merges", bpe->merges.size()},
                                    {"count_seconds", count_seconds},
                                    {"merge_seconds", merge_seconds},
                                    {"train_seconds", train_seconds},
                                    {"stats", nlohmann::ordered_json::parse(stats->ToJson())}};
  std::cout << summary.dump() << "\n";
  return 0;
}
