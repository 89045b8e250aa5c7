// A Hugging Face checkpoint directory: one model.safetensors, or shards listed in
// model.safetensors.index.json. Torch-free; Model turns the views into tensors.
#ifndef PRUNEGATE_SERVER_MODEL_CHECKPOINT_H_
#define PRUNEGATE_SERVER_MODEL_CHECKPOINT_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/safetensors.h"

namespace prunegate {

class Checkpoint {
 public:
  // Opens `dir`. Prefers model.safetensors.index.json when present (every shard it names must
  // exist inside `dir`, no path separators in shard names, every tensor it maps must be in that
  // shard, and no tensor may appear in two shards), else model.safetensors. NOT_FOUND when
  // neither exists. Every shard is validated by SafetensorsFile::Open.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // nullptr when absent. The view stays valid while this Checkpoint (or a copy of the shared
  // file pointer from `FileOf`) lives.
  const TensorView* Find(const std::string& name) const;
  // The shard holding `name` (to keep its mapping alive for zero-copy tensors); null if absent.
  std::shared_ptr<const SafetensorsFile> FileOf(const std::string& name) const;
  // Union of every shard's __metadata__ (later shards do not override earlier keys).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> TensorNames() const;
  // Sum of tensor bytes over all shards.
  size_t total_bytes() const;

 private:
  std::string dir_;
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, std::pair<size_t, const TensorView*>> index_;  // name -> (file, view)
  std::map<std::string, std::string> metadata_;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_CHECKPOINT_H_
