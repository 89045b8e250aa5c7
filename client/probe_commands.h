// `prunegate probe-layers` (per-sublayer drift through the logit lens) and `prunegate trace`
// (baseline and candidate decoding in lockstep): rows print as the server streams them.
#ifndef PRUNEGATE_CLIENT_PROBE_COMMANDS_H_
#define PRUNEGATE_CLIENT_PROBE_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/command.h"
#include "client/flags.h"
#include "client/output.h"
#include "prunegate/v1/prunegate.pb.h"

namespace prunegate::client {

int RunProbeLayers(const std::vector<std::string>& args, CommandEnv env);
int RunTrace(const std::vector<std::string>& args, CommandEnv env);

struct ProbeLayersArgs {
  PairArgs pair;
  PromptArgs prompt;
  std::vector<double> temperatures;
  std::string lens;  // norm | raw
  std::string mode;  // local | propagated
  bool all_positions = false;
  int64_t decode_steps = 0;
  int64_t top_k = 0;
  bool json = false;
};
FlagSet ProbeLayersFlags(ProbeLayersArgs* args);
absl::StatusOr<v1::ProbeLayersRequest> ProbeLayersRequestFrom(const FlagSet& flags,
                                                              const ProbeLayersArgs& args);
// Columns: layer, sublayer, pos, step, weights (dropped/shared/own), hidden ang and its
// prediction, logit ang, KL and predicted KL per temperature, top-1 agreement; with
// `propagated` also the final-output KL per temperature.
Table LayerTable(const std::vector<double>& temperatures, bool propagated);
std::vector<std::string> LayerCells(const v1::LayerRecord& record, bool propagated);

struct TraceArgs {
  PairArgs pair;
  PromptArgs prompt;
  std::string mode;  // free | teacher
  int64_t steps = 0;
  double sample_temperature = 0;
  int64_t seed = 0;
  int64_t top_k = 0;
  double top_p = 0;
  std::vector<double> temperatures;
  std::string reference;
  bool ignore_eos = false;
  bool json = false;
};
FlagSet TraceFlags(TraceArgs* args);
absl::StatusOr<v1::TraceDecodeRequest> TraceRequestFrom(const FlagSet& flags,
                                                        const TraceArgs& args);
// Columns: step, pos, token a, token b, text a, text b, agree, KL and predicted KL per
// temperature.
Table TraceTable(const std::vector<double>& temperatures);
std::vector<std::string> TraceCells(const v1::TraceStep& step);
// Steps, first divergence, token agreement, mean KL, then both continuations.
std::string TraceSummaryText(const v1::TraceSummary& summary);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_PROBE_COMMANDS_H_
