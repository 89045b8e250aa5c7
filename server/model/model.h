// An immutable model: config + weights on one device in one dtype. Shared via shared_ptr between
// requests (and, tensor by tensor, between a baseline and the candidates derived from it);
// per-request state lives in a Session.
#ifndef PRUNEGATE_SERVER_MODEL_MODEL_H_
#define PRUNEGATE_SERVER_MODEL_MODEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "c10/core/Device.h"
#include "c10/core/ScalarType.h"
#include "server/model/config.h"
#include "server/model/weights.h"

namespace prunegate {

struct LoadOptions {
  std::string device = "cpu";     // cpu | cuda[:N]
  std::string dtype = "float32";  // float32 | bfloat16 | float16
};

class Model {
 public:
  // Loads config.json and the safetensors weights of a Hugging Face checkpoint directory.
  // Tied embeddings in all three layouts: lm_head.weight absent (tied to the embedding), only
  // lm_head.weight present with __metadata__ aliasing the embedding to it, or both present.
  // Weights stored in the requested dtype on CPU are used in place (zero-copy from the mapping).
  // Every error names the directory and, where relevant, the tensor.
  static absl::StatusOr<std::shared_ptr<const Model>> Load(const std::string& dir,
                                                           const LoadOptions& options = {});
  // Builds a model from tensors already in memory (all on one device, one floating dtype);
  // validates them against `config`.
  static absl::StatusOr<std::shared_ptr<const Model>> FromWeights(ModelConfig config,
                                                                  ModelWeights weights,
                                                                  std::string source = "memory");

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const std::string& source() const { return source_; }  // directory or "memory"
  c10::Device device() const { return device_; }
  c10::ScalarType dtype() const { return dtype_; }
  int num_layers() const { return static_cast<int>(weights_.layers.size()); }
  bool tied() const;  // lm_head shares the embedding's storage

  // Parameters counted once per distinct storage (a tied head is not counted twice).
  int64_t parameter_count() const;
  // Bytes of distinct tensor storages this model references.
  int64_t bytes() const;
  // Bytes of storages this model shares with `other` (e.g. a candidate with its baseline).
  int64_t bytes_shared_with(const Model& other) const;

 private:
  Model() = default;
  ModelConfig config_;
  ModelWeights weights_;
  std::string source_;
  c10::Device device_{c10::kCPU};
  c10::ScalarType dtype_ = c10::kFloat;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_MODEL_H_
