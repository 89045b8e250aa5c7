// `prunegate choices` (multiple-choice items, option-subspace statistics), `prunegate embeddings`
// (pooled hidden states, cosine and ranking stability) and `prunegate kl` (teacher-forced KL over
// a text, llama.cpp's --kl-divergence block).
#ifndef PRUNEGATE_CLIENT_TASK_PROBE_COMMANDS_H_
#define PRUNEGATE_CLIENT_TASK_PROBE_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/command.h"
#include "client/flags.h"
#include "client/output.h"
#include "prunegate/v1/prunegate.pb.h"

namespace prunegate::client {

int RunChoices(const std::vector<std::string>& args, CommandEnv env);
int RunEmbeddings(const std::vector<std::string>& args, CommandEnv env);
int RunKl(const std::vector<std::string>& args, CommandEnv env);

// Columns: item, id, label, argmax a, argmax b, agree, subspace KL per temperature.
Table ChoiceTable(const std::vector<double>& temperatures);
std::vector<std::string> ChoiceCells(const v1::ChoiceResult& result);
std::string ChoiceSummaryText(const v1::ChoiceSummary& summary);

std::string EmbeddingSummaryText(const v1::EmbeddingSummary& summary);

struct EmbeddingsArgs {
  PairArgs pair;
  std::string texts_file;
  std::string items_file;
  std::string pooling;  // last | mean
  int64_t top_k = 0;
  bool json = false;
};
FlagSet EmbeddingsFlags(EmbeddingsArgs* args);
absl::StatusOr<v1::ProbeEmbeddingsRequest> EmbeddingsRequestFrom(const FlagSet& flags,
                                                                 const EmbeddingsArgs& args);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_TASK_PROBE_COMMANDS_H_
