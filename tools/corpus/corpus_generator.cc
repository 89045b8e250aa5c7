#include "tools/corpus/corpus_generator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/tasks/task_writer.h"
#include "tools/corpus/arithmetic.h"
#include "tools/corpus/held_out_tasks.h"
#include "tools/corpus/knowledge_base.h"
#include "tools/corpus/knowledge_text.h"
#include "tools/corpus/rng.h"
#include "tools/corpus/training_text.h"

namespace prunegate::corpus {
namespace {

namespace fs = std::filesystem;

// Independent random streams derived from the seed.
enum Stream : uint64_t {
  kArithmeticStream = 2,  // 1 is the knowledge base's (BuildKnowledgeBase derives it)
  kHeldOutStream = 3,
  kTrainStream = 4,
  kValidStream = 5,
  kCalibrationStream = 6,
};

constexpr size_t kFlushBytes = 8 << 20;

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Streams documents into `path` until `target_bytes` are written.
absl::Status WriteText(const std::string& path, const TrainingText& mixture, uint64_t seed,
                       int64_t target_bytes, std::vector<int64_t>* fact_counts,
                       std::map<std::string, int64_t>* docs_by_kind,
                       std::map<std::string, int64_t>* bytes_by_kind, int64_t* bytes,
                       int64_t* documents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot create ", path));
  Rng rng(seed);
  ProfileRotation rotation;
  std::string buffer;
  buffer.reserve(kFlushBytes + (64 << 10));
  *bytes = 0;
  *documents = 0;
  while (*bytes < target_bytes || *documents == 0) {
    DocKind kind;
    const std::string doc = mixture.Next(&rng, &rotation, &kind, fact_counts);
    if (*documents > 0) buffer += "\n";  // the empty line between documents
    buffer += doc;
    buffer += "\n";
    const int64_t n = static_cast<int64_t>(doc.size()) + (*documents > 0 ? 2 : 1);
    *bytes += n;
    ++*documents;
    if (docs_by_kind != nullptr) ++(*docs_by_kind)[DocKindName(kind)];
    if (bytes_by_kind != nullptr) (*bytes_by_kind)[DocKindName(kind)] += n;
    if (buffer.size() >= kFlushBytes) {
      out << buffer;
      buffer.clear();
    }
  }
  out << buffer;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string ManifestJson(const CorpusOptions& o, const CorpusStats& s) {
  using OrderedJson = nlohmann::ordered_json;
  OrderedJson m = OrderedJson::object();
  m["format"] = "prunegate-corpus/1";
  m["options"] = {{"seed", o.seed},
                  {"train_tokens_approx", o.train_tokens_approx},
                  {"valid_tokens_approx", o.valid_tokens_approx},
                  {"num_entities", o.num_entities},
                  {"knowledge_items", o.knowledge_items},
                  {"arithmetic_items", o.arithmetic_items},
                  {"story_items", o.story_items},
                  {"retrieval_set_size", o.retrieval_set_size},
                  {"max_operand", o.max_operand},
                  {"held_out_pair_permille", o.held_out_pair_permille},
                  {"mix", DocMixString(o.mix)},
                  {"mc_block_max_questions", o.mc_blocks.max_questions},
                  {"mc_lookup_percent", o.mc_blocks.lookup_percent},
                  {"mc_drill_percent", o.mc_blocks.drill_percent}};
  m["document_separator"] = "\n\n";
  m["bytes_per_token_estimate"] = kBytesPerTokenEstimate;
  m["train"] = {{"file", "train.txt"},
                {"bytes", s.train_bytes},
                {"documents", s.train_documents},
                {"documents_by_kind", s.train_documents_by_kind},
                {"bytes_by_kind", s.train_bytes_by_kind}};
  m["valid"] = {{"file", "valid.txt"}, {"bytes", s.valid_bytes}, {"documents", s.valid_documents}};
  m["fact_statements_in_train"] = {{"min", s.fact_statements_min},
                                   {"mean", s.fact_statements_mean}};
  m["held_out_operand_pairs"] = {{"add", s.held_out_pairs_add}, {"sub", s.held_out_pairs_sub}};
  m["task_items"] = s.task_items;
  return m.dump(2) + "\n";
}

}  // namespace

absl::Status ValidateCorpusOptions(const CorpusOptions& o) {
  const auto bad = [](const std::string& what) { return absl::InvalidArgumentError(what); };
  if (o.train_tokens_approx < 1000 || o.train_tokens_approx > 2'000'000'000) {
    return bad("train_tokens_approx must be in [1000, 2e9]");
  }
  if (o.valid_tokens_approx < 0) return bad("valid_tokens_approx must be >= 0");
  if (o.num_entities < 8 || o.num_entities > 2000) return bad("num_entities must be in [8, 2000]");
  if (o.knowledge_items < 0 || o.arithmetic_items < 0 || o.story_items < 0) {
    return bad("item counts must be >= 0");
  }
  if (o.mc_blocks.max_questions < 1 || o.mc_blocks.max_questions > 8) {
    return bad("mc_blocks.max_questions must be in [1, 8]");
  }
  if (o.mc_blocks.lookup_percent < 0 || o.mc_blocks.lookup_percent > 100 ||
      o.mc_blocks.drill_percent < 0 || o.mc_blocks.drill_percent > 100) {
    return bad("mc_blocks.lookup_percent and drill_percent must be in [0, 100]");
  }
  int mix_total = 0;
  for (int share : o.mix) {
    if (share < 0) return bad("mixture shares must be >= 0");
    mix_total += share;
  }
  if (mix_total != 100) return bad("mixture shares must sum to 100");
  if (o.retrieval_set_size < 2) return bad("retrieval_set_size must be >= 2");
  if (o.max_operand < 9 || o.max_operand > 999) return bad("max_operand must be in [9, 999]");
  if (o.held_out_pair_permille < 1 || o.held_out_pair_permille > 500) {
    return bad("held_out_pair_permille must be in [1, 500]");
  }
  return absl::OkStatus();
}

absl::StatusOr<CorpusStats> GenerateCorpus(const CorpusOptions& options,
                                           const std::string& out_dir) {
  PG_RETURN_IF_ERROR(ValidateCorpusOptions(options));
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "tasks", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  const uint64_t seed = options.seed;

  const KnowledgeBase kb = BuildKnowledgeBase(options.num_entities, seed);
  if (static_cast<int>(kb.entities.size()) < options.num_entities) {
    return absl::InternalError("could not invent enough distinct names");
  }
  const KnowledgeText text(kb, options.mc_blocks);
  const Arithmetic arithmetic(DeriveSeed(seed, kArithmeticStream), options.max_operand,
                              options.held_out_pair_permille);
  CorpusStats stats;
  stats.held_out_pairs_add = arithmetic.HeldOutProblems(true).size();
  stats.held_out_pairs_sub = arithmetic.HeldOutProblems(false).size();
  if (stats.held_out_pairs_add == 0 || stats.held_out_pairs_sub == 0) {
    return absl::InvalidArgumentError("no operand pair is held out; raise held_out_pair_permille");
  }
  PG_RETURN_IF_ERROR(WriteFile((fs::path(out_dir) / "kb.json").string(), KnowledgeBaseJson(kb)));

  // Held-out task files.
  HeldOutCounts counts;
  counts.knowledge = options.knowledge_items;
  counts.arithmetic = options.arithmetic_items;
  counts.stories = options.story_items;
  counts.retrieval_set_size = options.retrieval_set_size;
  const HeldOutTasks held_out =
      MakeHeldOutTasks(text, arithmetic, counts, DeriveSeed(seed, kHeldOutStream));
  const std::pair<const char*, const tasks::TaskSuite*> files[] = {
      {"knowledge_gen", &held_out.knowledge_gen},
      {"knowledge_mc", &held_out.knowledge_mc},
      {"arithmetic", &held_out.arithmetic},
      {"stories", &held_out.stories},
      {"retrieval", &held_out.retrieval}};
  for (const auto& [name, suite] : files) {
    const std::string path =
        (fs::path(out_dir) / "tasks" / (std::string(name) + ".jsonl")).string();
    PG_RETURN_IF_ERROR(tasks::WriteTaskFile(path, *suite));
    stats.task_items[name] = static_cast<int64_t>(suite->size());
  }

  // Training and validation text.
  const TrainingText mixture(text, arithmetic, DeriveSeed(seed, kCalibrationStream), options.mix);
  const int num_attributes = static_cast<int>(Attributes().size());
  std::vector<int64_t> fact_counts(kb.entities.size() * num_attributes, 0);
  const int64_t train_bytes = static_cast<int64_t>(
      static_cast<double>(options.train_tokens_approx) * kBytesPerTokenEstimate);
  int64_t valid_tokens = options.valid_tokens_approx;
  if (valid_tokens == 0) {
    valid_tokens = std::clamp<int64_t>(options.train_tokens_approx / 100, 20'000, 300'000);
  }
  const int64_t valid_bytes =
      static_cast<int64_t>(static_cast<double>(valid_tokens) * kBytesPerTokenEstimate);
  PG_RETURN_IF_ERROR(WriteText((fs::path(out_dir) / "train.txt").string(), mixture,
                               DeriveSeed(seed, kTrainStream), train_bytes, &fact_counts,
                               &stats.train_documents_by_kind, &stats.train_bytes_by_kind,
                               &stats.train_bytes, &stats.train_documents));
  PG_RETURN_IF_ERROR(WriteText((fs::path(out_dir) / "valid.txt").string(), mixture,
                               DeriveSeed(seed, kValidStream), valid_bytes, nullptr, nullptr,
                               nullptr, &stats.valid_bytes, &stats.valid_documents));
  int64_t total = 0;
  stats.fact_statements_min = fact_counts.empty() ? 0 : fact_counts[0];
  for (int64_t c : fact_counts) {
    stats.fact_statements_min = std::min(stats.fact_statements_min, c);
    total += c;
  }
  stats.fact_statements_mean =
      fact_counts.empty() ? 0.0 : static_cast<double>(total) / fact_counts.size();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PG_RETURN_IF_ERROR(
      WriteFile((fs::path(out_dir) / "manifest.json").string(), ManifestJson(options, stats)));
  return stats;
}

}  // namespace prunegate::corpus
