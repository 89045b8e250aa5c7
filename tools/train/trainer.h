// Training a Llama-architecture model with libtorch autograd on the engine's own forward pass
// (Transformer::Forward without a KV cache), AdamW, warmup + cosine schedule, gradient clipping,
// answer-weighted loss, and exact checkpoint/resume (weights, optimizer moments, data cursor).
#ifndef PRUNEGATE_TOOLS_TRAIN_TRAINER_H_
#define PRUNEGATE_TOOLS_TRAIN_TRAINER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/config.h"
#include "server/model/model.h"
#include "tools/train/packing.h"

namespace prunegate::train {

struct TrainOptions {
  ModelConfig model;
  int64_t seq_len = 256;  // L: tokens per row (inputs); rows hold L + 1
  int64_t batch_size = 16;
  int64_t total_steps = 10000;
  int64_t warmup_steps = 200;
  // First step of the current schedule: warmup runs over [schedule_start, schedule_start +
  // warmup_steps), then cosine decay to min_lr at total_steps. A resumed run that sets it to its
  // current step starts a new training phase (a warm restart) instead of continuing the old decay.
  int64_t schedule_start = 0;
  double lr = 3e-3;
  double min_lr = 3e-4;
  double weight_decay = 0.1;  // on matrices only (dim >= 2), not on norms or biases
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double clip = 1.0;
  uint64_t seed = 1;
  int32_t separator_id = 0;  // token between packed documents (the tokenizer's end-of-text)
};

struct StepResult {
  double loss = 0;       // weighted mean cross-entropy of the batch
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;  // input tokens in the batch
};

class Trainer {
 public:
  // A fresh run: weights drawn from `options.seed` (normal 0.02; residual output projections
  // scaled by 1/sqrt(2 * layers); norms 1). INVALID_ARGUMENT when `docs` is empty or an id is
  // outside the vocabulary.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainOptions& options,
                                                         std::vector<Document> docs);
  // Continues a run saved by SaveCheckpoint. The model shape and data must be the run's own;
  // optimizer hyperparameters may change (the schedule uses the new total_steps).
  static absl::StatusOr<std::unique_ptr<Trainer>> Resume(const std::string& checkpoint_dir,
                                                         const TrainOptions& options,
                                                         std::vector<Document> docs);

  absl::StatusOr<StepResult> Step();
  // Writes weights, optimizer moments and state.json atomically (temp dir + rename).
  absl::Status SaveCheckpoint(const std::string& dir) const;
  // Writes a Hugging Face checkpoint: config.json, model.safetensors (F32; tied head stored
  // once as model.embed_tokens.weight), generation_config.json.
  absl::Status ExportModel(const std::string& dir) const;

  // The model being trained (shares the live tensors; evaluate under InferenceMode).
  std::shared_ptr<const Model> model() const { return model_; }
  int64_t step() const { return step_; }
  int64_t tokens_seen() const { return tokens_seen_; }
  int64_t rows_per_epoch() const { return static_cast<int64_t>(rows_.size()); }
  const TrainOptions& options() const { return options_; }
  double LearningRate(int64_t step) const;

 private:
  Trainer() = default;
  absl::Status Init(const TrainOptions& options, std::vector<Document> docs);
  void RepackEpoch();

  TrainOptions options_;
  std::vector<Document> docs_;
  std::vector<Row> rows_;
  std::shared_ptr<const Model> model_;
  std::vector<std::string> names_;  // distinct parameters, HF keys
  std::vector<at::Tensor> params_, exp_avg_, exp_avg_sq_;
  int64_t step_ = 0, tokens_seen_ = 0, epoch_ = 0, cursor_ = 0;
};

}  // namespace prunegate::train

#endif  // PRUNEGATE_TOOLS_TRAIN_TRAINER_H_
