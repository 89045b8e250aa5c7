// `prunegate rank-layers`: the pruning-layer advisor (RankLayers). Progress on stderr while the
// server works, then a table of every layer from least to most damaging by the measured
// propagated KL, next to the importance score's order; `--json` prints the LayerRanking as the
// last line instead.
#ifndef PRUNEGATE_CLIENT_RANK_LAYERS_COMMAND_H_
#define PRUNEGATE_CLIENT_RANK_LAYERS_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/command.h"
#include "client/flags.h"
#include "prunegate/v1/prunegate.pb.h"

namespace prunegate::client {

int RunRankLayers(const std::vector<std::string>& args, CommandEnv env);

struct RankLayersArgs {
  std::string baseline;
  std::string recipe;  // drop-attention | drop-mlp
  std::vector<std::string> prompts;
  std::vector<double> temperatures;
  bool json = false;
};
FlagSet RankLayersFlags(RankLayersArgs* args);
absl::StatusOr<v1::RankLayersRequest> RankLayersRequestFrom(const FlagSet& flags,
                                                            const RankLayersArgs& args);

// The header lines, one row per layer in the ranking's order (columns: rank, layer, importance
// and its rank, h/z angular deviation and predictions, per temperature the lens KL, its
// prediction, p angular deviation and the propagated KL, then both top-1 agreements), and the
// importance score's order.
std::string RankingText(const v1::LayerRanking& ranking, const std::string& baseline);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_RANK_LAYERS_COMMAND_H_
