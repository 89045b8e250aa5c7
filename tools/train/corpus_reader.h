// Turns corpus text (documents separated by an empty line) into token documents with loss
// weights: the answer after a marker (" A:" for generated answers, "Answer:" for the
// multiple-choice letter) is weighted to the end of its line (newline included), the rest 1.
#ifndef PRUNEGATE_TOOLS_TRAIN_CORPUS_READER_H_
#define PRUNEGATE_TOOLS_TRAIN_CORPUS_READER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/tokenizer.h"
#include "tools/train/packing.h"

namespace prunegate::train {

struct ReaderOptions {
  std::vector<std::string> answer_markers = {"Answer:", " A:"};
  float answer_weight = 3.0f;
};

struct ReaderStats {
  int64_t documents = 0, tokens = 0, weighted_tokens = 0;
  // Documents whose marker-split encoding differed from the whole-line encoding (they are kept
  // with the whole-line tokens at weight 1).
  int64_t split_mismatches = 0;
};

// Splits `text` on "\n\n" and tokenizes every document, BOS first (when the tokenizer has one)
// as prompts are encoded at inference; the packer puts the end-of-text separator between them.
absl::StatusOr<std::vector<Document>> ReadDocuments(const std::string& text,
                                                    const Tokenizer& tokenizer,
                                                    const ReaderOptions& options,
                                                    ReaderStats* stats);

}  // namespace prunegate::train

#endif  // PRUNEGATE_TOOLS_TRAIN_CORPUS_READER_H_
