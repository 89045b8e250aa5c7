// prunegate's synthetic corpus (issue 3): a knowledge base of invented entities, training and
// validation text that states its facts, arithmetic and children's stories, and held-out task
// files. Deterministic: the same options give byte-identical output everywhere. Layout of DIR:
//   train.txt, valid.txt   documents separated by one empty line ("\n\n"), the file ending in
//                          "\n"; no document contains an empty line
//   kb.json                the knowledge base and its templates
//   tasks/{knowledge_gen,knowledge_mc,arithmetic,stories,retrieval}.jsonl  held-out task files
//   manifest.json          options, sizes and statistics
// See tools/corpus/README.md.
#ifndef PRUNEGATE_TOOLS_CORPUS_CORPUS_GENERATOR_H_
#define PRUNEGATE_TOOLS_CORPUS_CORPUS_GENERATOR_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/corpus/knowledge_text.h"
#include "tools/corpus/training_text.h"

namespace prunegate::corpus {

// Bytes of corpus text per token of the 1536-token byte-level BPE trained on it (measured; the
// --train-tokens-approx budget is converted to bytes with it).
inline constexpr double kBytesPerTokenEstimate = 2.85;

struct CorpusOptions {
  uint64_t seed = 1;
  int64_t train_tokens_approx = 30'000'000;
  int64_t valid_tokens_approx = 0;  // 0: 1% of train, within [20k, 300k]
  int num_entities = 300;
  int knowledge_items = 300;  // held-out facts, each asked as generation and as MC
  int arithmetic_items = 200;
  int story_items = 50;
  int retrieval_set_size = 16;
  int max_operand = 99;
  int held_out_pair_permille = 80;  // share of operand pairs held out of training, in 1/1000
  // The training text's composition (the held-out task files do not depend on these).
  DocMix mix = DefaultDocMix();
  McBlockOptions mc_blocks;
};

// INVALID_ARGUMENT naming the first out-of-range option.
absl::Status ValidateCorpusOptions(const CorpusOptions& options);

struct CorpusStats {
  int64_t train_bytes = 0, valid_bytes = 0;
  int64_t train_documents = 0, valid_documents = 0;
  std::map<std::string, int64_t> train_documents_by_kind, train_bytes_by_kind;
  // How often training text states each knowledge-base fact (profiles, Q/A answers, MC).
  int64_t fact_statements_min = 0;
  double fact_statements_mean = 0;
  std::map<std::string, int64_t> task_items;  // per task file
  int64_t held_out_pairs_add = 0, held_out_pairs_sub = 0;
  double seconds = 0;
};

// Writes the corpus into `out_dir` (created if needed; existing files of the same names are
// replaced). INVALID_ARGUMENT for bad options, INTERNAL for I/O failures.
absl::StatusOr<CorpusStats> GenerateCorpus(const CorpusOptions& options,
                                           const std::string& out_dir);

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_CORPUS_GENERATOR_H_
