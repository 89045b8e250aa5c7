// Packs tokenized training documents into fixed-length rows that start at document boundaries
// (a truncated context teaches nothing: see ../shared TRAINING.md), with per-token loss weights.
#ifndef PRUNEGATE_TOOLS_TRAIN_PACKING_H_
#define PRUNEGATE_TOOLS_TRAIN_PACKING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace prunegate::train {

struct Document {
  std::vector<int32_t> ids;
  std::vector<float> weights;  // loss weight of predicting ids[i] (same length as ids)
};

// One training row: inputs ids[0..L), targets ids[1..L]; weight 0 marks padding.
struct Row {
  std::vector<int32_t> ids;    // L + 1 tokens
  std::vector<float> weights;  // L weights, for targets ids[1..L]
};

// Greedy packing in the given document order: each row takes whole documents (each preceded by
// `separator`) while they fit in `row_tokens` = L + 1; a document longer than a row is split
// into row-sized pieces; the tail of a row is padded with `separator` at weight 0.
std::vector<Row> PackRows(const std::vector<Document>& docs, const std::vector<size_t>& order,
                          int64_t row_tokens, int32_t separator);

// A deterministic permutation of [0, n) for `epoch` (Fisher-Yates on std::mt19937_64 with our
// own range mapping, so the order is the same with every standard library).
std::vector<size_t> ShuffledOrder(size_t n, uint64_t seed, uint64_t epoch);

}  // namespace prunegate::train

#endif  // PRUNEGATE_TOOLS_TRAIN_PACKING_H_
