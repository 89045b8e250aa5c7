// The model registry: resident baselines and the candidates derived from them, with a
// Triton-style lifecycle (LOADING -> READY, or FAILED with a reason). Loads and derivations run on
// a bounded pool of worker threads. Requests get a `shared_ptr` to an immutable ResidentModel, so
// unloading an entry never pulls weights from under a running stream.
//
// Memory: every entry's bytes are counted per device, each distinct tensor storage once (a
// derived candidate shares its baseline's unchanged tensors), and a load or derivation that
// would take a device past the budget fails with RESOURCE_EXHAUSTED. A load reserves an estimate
// (its weight files' size, scaled to the requested dtype) while it runs, so two concurrent loads
// cannot both pass the check.
//
// Names: [A-Za-z0-9._-]{1,64}, unique (ALREADY_EXISTS for a LOADING or READY entry; a FAILED
// entry is replaced). Checkpoint paths resolve (symlinks included) inside the model root, else
// PERMISSION_DENIED. Torch-free header.
#ifndef PRUNEGATE_SERVER_SERVICE_REGISTRY_H_
#define PRUNEGATE_SERVER_SERVICE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace prunegate {
class Model;
class Tokenizer;
}  // namespace prunegate

namespace prunegate::prune {
enum class DropKind;
enum class Selection;
}  // namespace prunegate::prune

namespace prunegate::service {

class WorkerPool;

enum class ModelState { kLoading, kReady, kFailed };
const char* ModelStateName(ModelState state);  // "LOADING" | "READY" | "FAILED"

struct LayerImportance {
  int layer = 0;
  double similarity = 0;  // mean cos(X_in, X_out) over the calibration tokens
};

// What the registry reports about one entry.
struct ModelInfo {
  std::string name;
  ModelState state = ModelState::kLoading;
  std::string reason;  // why FAILED, or what LOADING is doing
  std::string architecture;
  std::string device;
  std::string dtype;
  int num_layers = 0;
  int hidden_size = 0;
  int vocab_size = 0;
  int64_t parameters = 0;
  int64_t bytes_resident = 0;  // bytes of the tensors this model references
  int64_t bytes_shared = 0;    // of those, bytes shared with its baseline (derived models)
  std::string baseline;        // derived models: the model they came from
  std::string recipe;          // derived models: "drop-mlp layers 3,4"
  std::vector<int> dropped_layers;
  std::vector<LayerImportance> importance;  // derived with a count: every unit's score
  std::string path;                         // the resolved checkpoint directory
};

// A READY model as a request sees it. Immutable.
struct ResidentModel {
  ModelInfo info;
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;  // null when the checkpoint has none
  std::string checkpoint_dir;  // where it was loaded from (derived: the baseline's directory)
};

struct LoadSpec {
  std::string name;
  std::string path;    // relative to the model root, or absolute inside it
  std::string device;  // "" = the registry's default device
  std::string dtype;   // "" = float32
};

struct DeriveSpec {
  std::string baseline;
  std::string name;
  prune::DropKind kind{};
  std::vector<int> layers;  // explicit layers, or ...
  int count = 0;            // ... how many to choose by importance score
  prune::Selection selection{};
  // Calibration texts for the importance score; empty = the baseline's tasks/ prompts (first
  // items per task) when its checkpoint has a tasks/ folder, else the built-in English prompts.
  std::vector<std::string> calibration_texts;
};

struct RegistryOptions {
  std::string model_root;  // must exist; resolved with realpath
  std::string default_device = "cpu";
  int64_t memory_budget_bytes = 0;  // per device; 0 = unlimited
  int load_threads = 2;
};

class ModelRegistry {
 public:
  // Called with the full list after every change (state, load, unload), serialised.
  using Listener = std::function<void(const std::vector<ModelInfo>&)>;
  // Called once, on a worker thread, with the final info (READY) or the error.
  using Done = std::function<void(const absl::StatusOr<ModelInfo>&)>;

  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(const RegistryOptions& options,
                                                               Listener listener = {});
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;
  ~ModelRegistry();  // finishes the queued loads first

  const std::string& model_root() const { return root_; }

  // Checks the name, path, device, dtype and the budget estimate, registers the entry as
  // LOADING and queues the load; returns the LOADING info. `done` gets the outcome.
  absl::StatusOr<ModelInfo> Load(const LoadSpec& spec, Done done = {});
  // Checks the names, the baseline (NOT_FOUND / FAILED_PRECONDITION) and the recipe's shape,
  // registers the candidate as LOADING and queues the derivation (layer choice by importance
  // score, then the drop); returns the LOADING info. `done` gets the outcome; a failed
  // derivation leaves no entry behind.
  absl::StatusOr<ModelInfo> Derive(const DeriveSpec& spec, Done done = {});
  // Removes a READY or FAILED entry (NOT_FOUND; FAILED_PRECONDITION while LOADING). Requests
  // that hold the model keep it until they finish.
  absl::Status Unload(const std::string& name);

  std::vector<ModelInfo> List() const;
  // NOT_FOUND for an unknown name, FAILED_PRECONDITION when the entry is not READY.
  absl::StatusOr<std::shared_ptr<const ResidentModel>> Get(const std::string& name) const;
  // Blocks until no entry is LOADING.
  void WaitUntilIdle();

 private:
  struct Entry {
    ModelInfo info;
    std::shared_ptr<const ResidentModel> resident;  // READY only
    std::string device_key;                         // where its bytes count
    int64_t reserved_bytes = 0;                     // LOADING loads: the budget estimate
  };

  explicit ModelRegistry(const RegistryOptions& options, std::string root, Listener listener);

  // Registers `name` as LOADING. ALREADY_EXISTS when a LOADING or READY entry has it.
  absl::Status Reserve(const std::string& name, const std::string& device_key, int64_t bytes,
                       const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bytes resident on `device_key` (each storage once) plus the reservations of other LOADING
  // entries, with `extra` counted as if resident. RESOURCE_EXHAUSTED past the budget.
  absl::Status CheckBudget(const std::string& device_key, const std::string& excluding,
                           const Model* extra, int64_t extra_estimate) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes the LOADING entry READY with `resident` after a final budget check, or FAILED (loads)
  // / removed (derivations) with `status`; notifies the listener and `done`.
  void Complete(const std::string& name, absl::StatusOr<std::shared_ptr<ResidentModel>> resident,
                bool keep_failed, const Done& done);
  void Publish();

  const RegistryOptions options_;
  const std::string root_;
  const Listener listener_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::Mutex publish_mu_;            // serialises listener calls, so they arrive in order
  std::unique_ptr<WorkerPool> pool_;  // last: destroyed (joined) first
};

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_REGISTRY_H_
