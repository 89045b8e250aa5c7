// Drop recipes: derive a candidate from a resident baseline by removing the attention sublayer,
// the MLP sublayer or the whole block of chosen layers (identity skip: the sublayer's norm goes
// with it). The candidate shares every tensor it keeps with the baseline (same storage), so a
// baseline plus N drop variants costs little more than the baseline.
//
// Layers can be chosen by the paper's importance score: for each sublayer, the mean over
// calibration tokens of cos(X, X + F(norm X)); the most similar (least useful) go first, either
// all at once from the baseline's scores (one-shot) or one at a time, rescoring the pruned model
// after each drop (iterative).
#ifndef PRUNEGATE_SERVER_PRUNE_DROP_H_
#define PRUNEGATE_SERVER_PRUNE_DROP_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/model.h"
#include "server/model/transformer.h"

namespace prunegate::prune {

enum class DropKind { kAttention, kMlp, kBlock };
const char* DropKindName(DropKind kind);  // "drop-attention" | "drop-mlp" | "drop-block"
absl::StatusOr<DropKind> ParseDropKind(const std::string& name);

// INVALID_ARGUMENT: no layers, a layer outside [0, num_layers), a repeated layer, or a sublayer
// the model has already dropped.
absl::StatusOr<std::shared_ptr<const Model>> DropLayers(const Model& baseline, DropKind kind,
                                                        const std::vector<int>& layers);

struct ImportanceScore {
  int layer = 0;
  DropKind kind = DropKind::kAttention;  // kAttention / kMlp per sublayer, kBlock per block
  double similarity = 0;                 // mean cos(X_in, X_out) over calibration tokens
};

// Scores every present unit of `kind` (sublayers, or whole blocks with both sublayers present)
// on calibration token sequences, `batch` sequences per forward pass. INVALID_ARGUMENT for empty
// calibration data or ids outside the vocabulary. `cancelled`, when set, is polled before every
// batch (CANCELLED).
absl::StatusOr<std::vector<ImportanceScore>> ScoreImportance(
    std::shared_ptr<const Model> model, DropKind kind,
    const std::vector<std::vector<int64_t>>& calibration, int64_t batch = 8,
    const std::function<bool()>& cancelled = {});

enum class Selection { kOneShot, kIterative };

// The `count` layers to drop, most similar first. INVALID_ARGUMENT when fewer than `count`
// units are present.
absl::StatusOr<std::vector<int>> ChooseLayers(std::shared_ptr<const Model> baseline, DropKind kind,
                                              int count,
                                              const std::vector<std::vector<int64_t>>& calibration,
                                              Selection selection, int64_t batch = 8);

}  // namespace prunegate::prune

#endif  // PRUNEGATE_SERVER_PRUNE_DROP_H_
