// Builds the registry's ResidentModels: loads a checkpoint directory, or derives a drop candidate
// from a resident baseline (layers given, or chosen by the paper's importance score on
// calibration sequences). Runs on the registry's worker threads. Torch-free header.
#ifndef PRUNEGATE_SERVER_SERVICE_MODEL_FACTORY_H_
#define PRUNEGATE_SERVER_SERVICE_MODEL_FACTORY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/service/registry.h"
#include "server/tasks/task.h"

namespace prunegate::service {

// Canonical device name ("cpu", "cuda:0"); INVALID_ARGUMENT / FAILED_PRECONDITION as ParseDevice.
absl::StatusOr<std::string> CanonicalDevice(const std::string& device);
// INVALID_ARGUMENT for an unknown dtype name.
absl::Status ValidateDType(const std::string& dtype);

// Bytes `dir`'s weights will take as `dtype`: the *.safetensors files' size, scaled by the ratio
// of `dtype`'s width to the stored width (config.json torch_dtype, float32 when absent).
int64_t EstimateLoadBytes(const std::string& dir, const std::string& dtype);

// Loads the model (and its tokenizer, when the directory has one) and fills `info` from it.
absl::StatusOr<std::shared_ptr<ResidentModel>> LoadResident(const std::string& name,
                                                            const std::string& dir,
                                                            const std::string& device,
                                                            const std::string& dtype);

// Checks a recipe against the baseline without running anything: a drop kind, exactly one of
// explicit layers or a positive count, layers inside [0, num_layers) and not repeated, a count
// no larger than the layer count. INVALID_ARGUMENT naming the field.
absl::Status ValidateRecipe(const DeriveSpec& spec, const ResidentModel& baseline);

// The first `per_task` items of every task in the model's checkpoint tasks/ folder; an empty
// suite when it has none. INVALID_ARGUMENT when a task file there is malformed.
absl::StatusOr<tasks::TaskSuite> CheckpointTaskItems(const ResidentModel& model, int64_t per_task);

// The token sequences the importance score runs on (see DeriveSpec::calibration_texts), at most
// 64 sequences, each cut to the model's context.
absl::StatusOr<std::vector<std::vector<int64_t>>> CalibrationSequences(
    const std::vector<std::string>& texts, const ResidentModel& baseline);

// Chooses the layers (when `spec.count` is set), drops them and describes the candidate.
absl::StatusOr<std::shared_ptr<ResidentModel>> DeriveResident(const DeriveSpec& spec,
                                                              const ResidentModel& baseline);

// Bytes of the distinct tensor storages the models reference together (shared ones once).
int64_t DistinctBytes(const std::vector<const Model*>& models);

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_MODEL_FACTORY_H_
