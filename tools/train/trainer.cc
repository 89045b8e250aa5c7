#include "tools/train/trainer.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/checkpoint.h"
#include "server/model/safetensors.h"
#include "server/model/transformer.h"
#include "torch/torch.h"

namespace prunegate::train {
namespace fs = std::filesystem;

namespace {

TensorToWrite ToWrite(const std::string& name, const at::Tensor& t) {
  at::Tensor c = t.detach().to(torch::kFloat).contiguous();
  return {name, DType::kF32, c.sizes().vec(),
          std::string(static_cast<const char*>(c.data_ptr()), c.nbytes())};
}

absl::Status ReadInto(const Checkpoint& ckpt, const std::string& name, at::Tensor& t) {
  const TensorView* v = ckpt.Find(name);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat(ckpt.dir(), ": missing ", name));
  if (v->dtype != DType::kF32 || v->shape != t.sizes().vec()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ckpt.dir(), ": ", name, " does not match the model's shape"));
  }
  torch::NoGradGuard no_grad;
  std::memcpy(t.data_ptr(), v->data, v->nbytes);
  return absl::OkStatus();
}

ModelWeights InitWeights(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  const double std = 0.02, out_std = 0.02 / std::sqrt(2.0 * c.num_hidden_layers);
  auto normal = [](std::vector<int64_t> shape, double s) {
    return (torch::randn(shape, torch::kFloat) * s).set_requires_grad(true);
  };
  auto ones = [](int64_t n) { return torch::ones({n}, torch::kFloat).set_requires_grad(true); };
  auto zeros = [](int64_t n) { return torch::zeros({n}, torch::kFloat).set_requires_grad(true); };
  const int64_t H = c.hidden_size, Q = c.q_dim(), K = c.kv_dim(), I = c.intermediate_size;
  ModelWeights w;
  w.embed_tokens = normal({c.vocab_size, H}, std);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights l;
    l.input_norm = ones(H);
    l.q_proj = normal({Q, H}, std);
    l.k_proj = normal({K, H}, std);
    l.v_proj = normal({K, H}, std);
    l.o_proj = normal({H, Q}, out_std);
    if (c.qkv_bias || c.attention_bias) {
      l.q_bias = zeros(Q);
      l.k_bias = zeros(K);
      l.v_bias = zeros(K);
    }
    if (c.attention_bias) l.o_bias = zeros(H);
    l.post_attention_norm = ones(H);
    l.gate_proj = normal({I, H}, std);
    l.up_proj = normal({I, H}, std);
    l.down_proj = normal({H, I}, out_std);
    w.layers.push_back(std::move(l));
  }
  w.final_norm = ones(H);
  w.lm_head = c.tie_word_embeddings ? w.embed_tokens : normal({c.vocab_size, H}, std);
  return w;
}

nlohmann::json OptionsJson(const TrainOptions& o) {
  return {{"seq_len", o.seq_len},
          {"batch_size", o.batch_size},
          {"total_steps", o.total_steps},
          {"warmup_steps", o.warmup_steps},
          {"schedule_start", o.schedule_start},
          {"lr", o.lr},
          {"min_lr", o.min_lr},
          {"weight_decay", o.weight_decay},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"clip", o.clip},
          {"seed", o.seed},
          {"separator_id", o.separator_id}};
}

}  // namespace

absl::Status Trainer::Init(const TrainOptions& options, std::vector<Document> docs) {
  options_ = options;
  if (docs.empty()) return absl::InvalidArgumentError("no training documents");
  for (const Document& d : docs) {
    if (d.ids.size() != d.weights.size()) {
      return absl::InvalidArgumentError("document ids and weights differ in length");
    }
    for (int32_t id : d.ids) {
      if (id < 0 || id >= options.model.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " outside the vocabulary of ", options.model.vocab_size));
      }
    }
  }
  if (options.seq_len < 2 || options.batch_size < 1 || options.total_steps < 1) {
    return absl::InvalidArgumentError("seq_len >= 2, batch_size >= 1 and total_steps >= 1 needed");
  }
  if (options.schedule_start < 0 || options.schedule_start >= options.total_steps ||
      options.warmup_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule_start must be in [0, total_steps) and warmup_steps >= 1; got ",
                     options.schedule_start, " of ", options.total_steps, " and warmup ",
                     options.warmup_steps));
  }
  docs_ = std::move(docs);
  PG_ASSIGN_OR_RETURN(
      model_,
      Model::FromWeights(options.model, InitWeights(options.model, options.seed), "training"));
  std::set<const void*> seen;
  ForEachWeight(model_->weights(), [&](const std::string& key, const at::Tensor& t) {
    if (!seen.insert(t.data_ptr()).second) return;  // the tied head is the embedding
    names_.push_back(key);
    params_.push_back(t);
    exp_avg_.push_back(torch::zeros_like(t).set_requires_grad(false));
    exp_avg_sq_.push_back(torch::zeros_like(t).set_requires_grad(false));
  });
  RepackEpoch();
  return absl::OkStatus();
}

void Trainer::RepackEpoch() {
  rows_ = PackRows(docs_, ShuffledOrder(docs_.size(), options_.seed, epoch_), options_.seq_len + 1,
                   options_.separator_id);
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainOptions& options,
                                                         std::vector<Document> docs) {
  std::unique_ptr<Trainer> t(new Trainer());
  PG_RETURN_IF_ERROR(t->Init(options, std::move(docs)));
  return t;
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Resume(const std::string& dir,
                                                         const TrainOptions& options,
                                                         std::vector<Document> docs) {
  std::ifstream f(fs::path(dir) / "state.json");
  if (!f) return absl::NotFoundError(absl::StrCat(dir, ": no state.json to resume from"));
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/state.json: ", e.what()));
  }
  PG_ASSIGN_OR_RETURN(ModelConfig saved, ParseModelConfig(state["model"].dump(), "state.json"));
  if (ModelConfigToJson(saved) != ModelConfigToJson(options.model)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, ": the checkpoint's model shape differs from the requested one"));
  }
  std::unique_ptr<Trainer> t(new Trainer());
  PG_RETURN_IF_ERROR(t->Init(options, std::move(docs)));
  PG_ASSIGN_OR_RETURN(auto weights, Checkpoint::Open((fs::path(dir) / "weights").string()));
  PG_ASSIGN_OR_RETURN(auto moments, Checkpoint::Open((fs::path(dir) / "optimizer").string()));
  for (size_t i = 0; i < t->params_.size(); ++i) {
    PG_RETURN_IF_ERROR(ReadInto(*weights, t->names_[i], t->params_[i]));
    PG_RETURN_IF_ERROR(ReadInto(*moments, t->names_[i] + ".exp_avg", t->exp_avg_[i]));
    PG_RETURN_IF_ERROR(ReadInto(*moments, t->names_[i] + ".exp_avg_sq", t->exp_avg_sq_[i]));
  }
  t->step_ = state.value("step", 0);
  t->tokens_seen_ = state.value("tokens_seen", 0);
  t->epoch_ = state.value("epoch", 0);
  t->cursor_ = state.value("cursor", 0);
  t->RepackEpoch();
  return t;
}

double Trainer::LearningRate(int64_t step) const {
  const TrainOptions& o = options_;
  const int64_t s = step - o.schedule_start;
  if (s < o.warmup_steps) return o.lr * (std::max<int64_t>(s, 0) + 1) / o.warmup_steps;
  const int64_t decay = o.total_steps - o.schedule_start - o.warmup_steps;
  const double progress =
      std::min(1.0, double(s - o.warmup_steps) / std::max<int64_t>(1, decay));
  return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1 + std::cos(M_PI * progress));
}

absl::StatusOr<StepResult> Trainer::Step() {
  const int64_t b = options_.batch_size, l = options_.seq_len;
  at::Tensor ids = torch::empty({b, l + 1}, torch::kLong);
  at::Tensor weights = torch::empty({b, l}, torch::kFloat);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto weights_a = weights.accessor<float, 2>();
  for (int64_t r = 0; r < b; ++r) {
    if (cursor_ >= static_cast<int64_t>(rows_.size())) {
      ++epoch_;
      cursor_ = 0;
      RepackEpoch();
    }
    const Row& row = rows_[cursor_++];
    for (int64_t i = 0; i <= l; ++i) ids_a[r][i] = row.ids[i];
    for (int64_t i = 0; i < l; ++i) weights_a[r][i] = row.weights[i];
  }
  ForwardInput in{ids.narrow(1, 0, l), torch::arange(l, torch::kLong).expand({b, l}), at::Tensor()};
  for (at::Tensor& p : params_) p.mutable_grad() = at::Tensor();
  at::Tensor logits = Transformer::Logits(*model_, Transformer::Forward(*model_, in, nullptr));
  at::Tensor nll = torch::nn::functional::cross_entropy(
      logits.view({b * l, -1}), ids.narrow(1, 1, l).reshape({b * l}),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  at::Tensor w = weights.view({b * l});
  at::Tensor loss = (nll * w).sum() / w.sum().clamp_min(1.0);
  loss.backward();

  StepResult result;
  result.loss = loss.item<double>();
  result.lr = LearningRate(step_);
  result.tokens = b * l;
  torch::NoGradGuard no_grad;
  double sq = 0;
  for (const at::Tensor& p : params_) sq += p.grad().pow(2).sum().item<double>();
  result.grad_norm = std::sqrt(sq);
  const double scale = result.grad_norm > options_.clip ? options_.clip / result.grad_norm : 1.0;
  const int64_t t = step_ + 1;
  const double bc1 = 1 - std::pow(options_.beta1, t), bc2 = 1 - std::pow(options_.beta2, t);
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    at::Tensor g = p.grad() * scale;
    exp_avg_[i].mul_(options_.beta1).add_(g, 1 - options_.beta1);
    exp_avg_sq_[i].mul_(options_.beta2).addcmul_(g, g, 1 - options_.beta2);
    if (p.dim() >= 2) p.mul_(1 - result.lr * options_.weight_decay);
    at::Tensor denom = (exp_avg_sq_[i] / bc2).sqrt_().add_(options_.eps);
    p.addcdiv_(exp_avg_[i], denom, -result.lr / bc1);
  }
  ++step_;
  tokens_seen_ += result.tokens;
  return result;
}

absl::Status Trainer::SaveCheckpoint(const std::string& dir) const {
  const fs::path tmp = fs::path(dir).string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp / "weights", ec);
  fs::create_directories(tmp / "optimizer", ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", tmp.string(), ": ", ec.message()));
  std::vector<TensorToWrite> w, m;
  for (size_t i = 0; i < params_.size(); ++i) {
    w.push_back(ToWrite(names_[i], params_[i]));
    m.push_back(ToWrite(names_[i] + ".exp_avg", exp_avg_[i]));
    m.push_back(ToWrite(names_[i] + ".exp_avg_sq", exp_avg_sq_[i]));
  }
  PG_RETURN_IF_ERROR(WriteSafetensors((tmp / "weights" / "model.safetensors").string(), w));
  PG_RETURN_IF_ERROR(WriteSafetensors((tmp / "optimizer" / "model.safetensors").string(), m));
  nlohmann::json state = {{"step", step_},
                          {"tokens_seen", tokens_seen_},
                          {"epoch", epoch_},
                          {"cursor", cursor_},
                          {"model", nlohmann::json::parse(ModelConfigToJson(options_.model))},
                          {"options", OptionsJson(options_)}};
  std::ofstream(tmp / "state.json") << state.dump(2) << "\n";
  std::ofstream(tmp / "weights" / "config.json") << ModelConfigToJson(options_.model);
  std::ofstream(tmp / "optimizer" / "config.json") << ModelConfigToJson(options_.model);
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot move checkpoint into ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status Trainer::ExportModel(const std::string& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<TensorToWrite> w;
  for (size_t i = 0; i < params_.size(); ++i) w.push_back(ToWrite(names_[i], params_[i]));
  PG_RETURN_IF_ERROR(
      WriteSafetensors((fs::path(dir) / "model.safetensors").string(), w, {{"format", "pt"}}));
  std::ofstream(fs::path(dir) / "config.json") << ModelConfigToJson(options_.model);
  nlohmann::json gen = {{"do_sample", false}};
  if (!options_.model.bos_token_ids.empty()) gen["bos_token_id"] = options_.model.bos_token_ids[0];
  if (!options_.model.eos_token_ids.empty()) gen["eos_token_id"] = options_.model.eos_token_ids[0];
  std::ofstream(fs::path(dir) / "generation_config.json") << gen.dump(2) << "\n";
  return absl::OkStatus();
}

}  // namespace prunegate::train
