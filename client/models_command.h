// `prunegate models list|load|derive|unload`: the server's model registry.
#ifndef PRUNEGATE_CLIENT_MODELS_COMMAND_H_
#define PRUNEGATE_CLIENT_MODELS_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/command.h"
#include "client/flags.h"
#include "prunegate/v1/prunegate.pb.h"

namespace prunegate::client {

int RunModelsList(const std::vector<std::string>& args, CommandEnv env);
int RunModelsLoad(const std::vector<std::string>& args, CommandEnv env);
int RunModelsDerive(const std::vector<std::string>& args, CommandEnv env);
int RunModelsUnload(const std::vector<std::string>& args, CommandEnv env);

// The flags of `models derive`, as typed.
struct DeriveArgs {
  std::string baseline;
  std::string name;
  std::string recipe;  // drop-attention | drop-mlp | drop-block
  int64_t count = 0;
  std::vector<int64_t> layers;
  bool iterative = false;
  std::string calibration_file;
  bool json = false;
};
FlagSet DeriveFlags(DeriveArgs* args);
// INVALID_ARGUMENT for a missing flag, an unknown recipe, both or neither of --count/--layers.
absl::StatusOr<v1::DeriveModelRequest> DeriveRequestFrom(const FlagSet& flags,
                                                         const DeriveArgs& args);

// One row per model: name, state, reason, arch, layers, params, MB resident, MB shared,
// baseline/recipe.
std::string ModelsTable(const std::vector<v1::ModelInfo>& models);
// "4.62M" style.
std::string Params(int64_t count);

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_MODELS_COMMAND_H_
