// prunegate-corpus: writes the synthetic training corpus and held-out task files of issue 3.
//
//   prunegate-corpus --out DIR [--seed S] [--train-tokens-approx N] [--valid-tokens-approx N]
//       [--entities N] [--knowledge-items N] [--arithmetic-items N] [--story-items N]
//       [--retrieval-set-size N] [--max-operand N] [--held-out-pair-permille N]
//       [--mix profile=17,qa=19,multiple_choice=32,arithmetic=16,story=16]
//       [--mc-block-questions 2] [--mc-lookup-percent 50] [--mc-drill-percent 0]
//
// Prints a one-line JSON summary (sizes, document counts, fact repetition, seconds) on success;
// errors go to stderr with exit code 1. See tools/corpus/README.md.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "nlohmann/json.hpp"
#include "tools/cli_flags.h"
#include "tools/corpus/corpus_generator.h"

namespace {
const prunegate::corpus::CorpusOptions kDefaults;
}  // namespace

ABSL_FLAG(std::string, out, "", "output directory (created if needed)");
ABSL_FLAG(uint64_t, seed, kDefaults.seed, "random seed; the same seed gives identical files");
ABSL_FLAG(int64_t, train_tokens_approx, kDefaults.train_tokens_approx,
          "approximate size of train.txt in tokens of the 1536-token BPE (2.85 bytes per token)");
ABSL_FLAG(int64_t, valid_tokens_approx, kDefaults.valid_tokens_approx,
          "approximate size of valid.txt in tokens; 0 = 1% of train within [20k, 300k]");
ABSL_FLAG(int, entities, kDefaults.num_entities, "knowledge-base entities");
ABSL_FLAG(int, knowledge_items, kDefaults.knowledge_items,
          "held-out facts (each one generation and one multiple-choice item)");
ABSL_FLAG(int, arithmetic_items, kDefaults.arithmetic_items, "held-out arithmetic items");
ABSL_FLAG(int, story_items, kDefaults.story_items, "held-out story prompts");
ABSL_FLAG(int, retrieval_set_size, kDefaults.retrieval_set_size, "documents per retrieval item");
ABSL_FLAG(int, max_operand, kDefaults.max_operand, "largest arithmetic operand");
ABSL_FLAG(int, held_out_pair_permille, kDefaults.held_out_pair_permille,
          "operand pairs held out of training, per 1000");
ABSL_FLAG(std::string, mix, prunegate::corpus::DocMixString(kDefaults.mix),
          "training-text bytes per document kind, in percent (KIND=PERCENT,...; sums to 100)");
ABSL_FLAG(int, mc_block_questions, kDefaults.mc_blocks.max_questions,
          "most questions per multiple-choice training block (each block has 1..N)");
ABSL_FLAG(int, mc_drill_percent, kDefaults.mc_blocks.drill_percent,
          "share of multiple-choice training blocks that are option drills (options first, then "
          "2-4 questions answered on their own lines), in percent");
ABSL_FLAG(int, mc_lookup_percent, kDefaults.mc_blocks.lookup_percent,
          "share of lookup drills among multiple-choice training questions, in percent");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Write prunegate's synthetic corpus and held-out task files.\n  prunegate-corpus --out DIR "
      "[--seed S] [--train-tokens-approx N] ...\nFlags accept dashes or underscores.");
  std::vector<char*> args = prunegate::cli::DashesToUnderscores(argc, argv);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());

  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::cerr << "prunegate-corpus: --out DIR is required\n";
    return 1;
  }
  prunegate::corpus::CorpusOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.train_tokens_approx = absl::GetFlag(FLAGS_train_tokens_approx);
  options.valid_tokens_approx = absl::GetFlag(FLAGS_valid_tokens_approx);
  options.num_entities = absl::GetFlag(FLAGS_entities);
  options.knowledge_items = absl::GetFlag(FLAGS_knowledge_items);
  options.arithmetic_items = absl::GetFlag(FLAGS_arithmetic_items);
  options.story_items = absl::GetFlag(FLAGS_story_items);
  options.retrieval_set_size = absl::GetFlag(FLAGS_retrieval_set_size);
  options.max_operand = absl::GetFlag(FLAGS_max_operand);
  options.held_out_pair_permille = absl::GetFlag(FLAGS_held_out_pair_permille);
  auto mix = prunegate::corpus::ParseDocMix(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) {
    std::cerr << "prunegate-corpus: --mix: " << mix.status().message() << "\n";
    return 1;
  }
  options.mix = *mix;
  options.mc_blocks.max_questions = absl::GetFlag(FLAGS_mc_block_questions);
  options.mc_blocks.lookup_percent = absl::GetFlag(FLAGS_mc_lookup_percent);
  options.mc_blocks.drill_percent = absl::GetFlag(FLAGS_mc_drill_percent);

  auto stats = prunegate::corpus::GenerateCorpus(options, out);
  if (!stats.ok()) {
    std::cerr << "prunegate-corpus: " << stats.status().ToString() << "\n";
    return 1;
  }
  nlohmann::ordered_json summary = {{"out", out},
                                    {"train_bytes", stats->train_bytes},
                                    {"train_documents", stats->train_documents},
                                    {"valid_bytes", stats->valid_bytes},
                                    {"valid_documents", stats->valid_documents},
                                    {"fact_statements_min", stats->fact_statements_min},
                                    {"fact_statements_mean", stats->fact_statements_mean},
                                    {"task_items", stats->task_items},
                                    {"seconds", stats->seconds}};
  std::cout << summary.dump() << "\n";
  return 0;
}
