#include "server/model/model.h"

#include <cstdint>
#include <set>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/checkpoint.h"
#include "server/model/device.h"
#include "torch/torch.h"

namespace prunegate {
namespace {

absl::StatusOr<c10::ScalarType> TorchType(DType d) {
  switch (d) {
    case DType::kF32:
      return c10::kFloat;
    case DType::kF16:
      return c10::kHalf;
    case DType::kBF16:
      return c10::kBFloat16;
    default:
      return absl::InvalidArgumentError("not a floating-point weight dtype");
  }
}

// Wraps a checkpoint tensor as a torch tensor of `dtype` on `device`. Zero-copy when the stored
// dtype matches, the target is CPU and the data is aligned; the mapping stays alive through the
// deleter. The mapping is read-only: Model tensors are never written in place.
absl::StatusOr<at::Tensor> ToTensor(const Checkpoint& ckpt, const std::string& key,
                                    c10::Device device, c10::ScalarType dtype) {
  const TensorView* view = ckpt.Find(key);
  if (view == nullptr) return at::Tensor();
  auto stored = TorchType(view->dtype);
  if (!stored.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", ckpt.dir(), ": tensor ", key, " has dtype ",
        std::string(SafetensorsDTypeName(view->dtype)), "; weights must be F32, F16 or BF16"));
  }
  std::shared_ptr<const SafetensorsFile> file = ckpt.FileOf(key);
  const size_t elem = DTypeSize(view->dtype);
  const bool aligned = reinterpret_cast<uintptr_t>(view->data) % elem == 0;
  auto opts = torch::TensorOptions().dtype(*stored);
  at::Tensor t;
  if (aligned) {
    t = torch::from_blob(
        const_cast<uint8_t*>(view->data), view->shape,
        [file](void*) { /* keeps the mapping alive */ }, opts);
  } else {
    t = torch::empty(view->shape, opts);
    std::memcpy(t.data_ptr(), view->data, view->nbytes);
  }
  if (*stored == dtype && device.is_cpu()) return t;
  return t.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> Model::Load(const std::string& dir,
                                                         const LoadOptions& options) {
  PG_ASSIGN_OR_RETURN(c10::Device device, ParseDevice(options.device));
  PG_ASSIGN_OR_RETURN(c10::ScalarType dtype, ParseDType(options.dtype));
  PG_RETURN_IF_ERROR(CheckComputeSupported(device, dtype));
  PG_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
  PG_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(dir));

  torch::NoGradGuard no_grad;
  ModelWeights w;
  auto load = [&](const std::string& key, at::Tensor* out) -> absl::Status {
    try {
      PG_ASSIGN_OR_RETURN(*out, ToTensor(*ckpt, key, device, dtype));
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("checkpoint ", dir, ": tensor ", key, ": ", e.what_without_backtrace()));
    }
    return absl::OkStatus();
  };
  PG_RETURN_IF_ERROR(load("model.embed_tokens.weight", &w.embed_tokens));
  PG_RETURN_IF_ERROR(load("model.norm.weight", &w.final_norm));
  PG_RETURN_IF_ERROR(load("lm_head.weight", &w.lm_head));
  if (!w.embed_tokens.defined()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", dir, ": missing tensor model.embed_tokens.weight"));
  }
  if (config.tie_word_embeddings) {
    // HF ties the head to the embedding whatever lm_head.weight holds; when both are stored
    // they must agree, or the file is not what config.json says.
    if (w.lm_head.defined() && !w.lm_head.is_same(w.embed_tokens) &&
        (w.lm_head.sizes() != w.embed_tokens.sizes() || !torch::equal(w.lm_head, w.embed_tokens))) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint ", dir,
                       ": tie_word_embeddings is true but lm_head.weight differs from "
                       "model.embed_tokens.weight"));
    }
    w.lm_head = w.embed_tokens;
  } else if (!w.lm_head.defined()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint ", dir, ": missing tensor lm_head.weight (tie_word_embeddings is false)"));
  }
  w.layers.resize(config.num_hidden_layers);
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    LayerWeights& l = w.layers[i];
    const std::pair<const char*, at::Tensor*> keys[] = {
        {"input_layernorm.weight", &l.input_norm},
        {"self_attn.q_proj.weight", &l.q_proj},
        {"self_attn.k_proj.weight", &l.k_proj},
        {"self_attn.v_proj.weight", &l.v_proj},
        {"self_attn.o_proj.weight", &l.o_proj},
        {"self_attn.q_proj.bias", &l.q_bias},
        {"self_attn.k_proj.bias", &l.k_bias},
        {"self_attn.v_proj.bias", &l.v_bias},
        {"self_attn.o_proj.bias", &l.o_bias},
        {"post_attention_layernorm.weight", &l.post_attention_norm},
        {"mlp.gate_proj.weight", &l.gate_proj},
        {"mlp.up_proj.weight", &l.up_proj},
        {"mlp.down_proj.weight", &l.down_proj},
        {"mlp.gate_proj.bias", &l.gate_bias},
        {"mlp.up_proj.bias", &l.up_bias},
        {"mlp.down_proj.bias", &l.down_bias},
    };
    for (const auto& [suffix, out] : keys) {
      PG_RETURN_IF_ERROR(load(LayerKey(i, suffix), out));
    }
    // A checkpoint must contain every sublayer; dropping is done by prune recipes, not by files.
    for (const auto& [suffix, out] : keys) {
      const std::string s = suffix;
      const bool bias = s.find(".bias") != std::string::npos;
      if (!bias && !out->defined()) {
        return absl::InvalidArgumentError(
            absl::StrCat("checkpoint ", dir, ": missing tensor ", LayerKey(i, suffix)));
      }
    }
  }
  absl::Status valid = ValidateWeights(config, w);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", dir, ": ", valid.message()));
  }
  auto model = std::shared_ptr<Model>(new Model());
  model->config_ = std::move(config);
  model->weights_ = std::move(w);
  model->source_ = dir;
  model->device_ = device;
  model->dtype_ = dtype;
  return std::shared_ptr<const Model>(std::move(model));
}

absl::StatusOr<std::shared_ptr<const Model>> Model::FromWeights(ModelConfig config,
                                                                ModelWeights weights,
                                                                std::string source) {
  PG_RETURN_IF_ERROR(ValidateWeights(config, weights));
  std::optional<c10::Device> device;
  std::optional<c10::ScalarType> dtype;
  absl::Status status;
  ForEachWeight(weights, [&](const std::string& key, const at::Tensor& t) {
    if (!status.ok()) return;
    if (!device) device = t.device();
    if (!dtype) dtype = t.scalar_type();
    if (t.device() != *device || t.scalar_type() != *dtype) {
      status = absl::InvalidArgumentError(
          absl::StrCat("tensor ", key, " is ", t.toString(), " on ", t.device().str(),
                       "; every tensor must share one device and dtype"));
    }
  });
  PG_RETURN_IF_ERROR(status);
  if (*dtype != c10::kFloat && *dtype != c10::kBFloat16 && *dtype != c10::kHalf) {
    return absl::InvalidArgumentError("weights must be float32, bfloat16 or float16");
  }
  PG_RETURN_IF_ERROR(CheckComputeSupported(*device, *dtype));
  auto model = std::shared_ptr<Model>(new Model());
  model->config_ = std::move(config);
  model->weights_ = std::move(weights);
  model->source_ = std::move(source);
  model->device_ = *device;
  model->dtype_ = *dtype;
  return std::shared_ptr<const Model>(std::move(model));
}

bool Model::tied() const {
  return weights_.lm_head.is_same(weights_.embed_tokens) ||
         weights_.lm_head.storage().is_alias_of(weights_.embed_tokens.storage());
}

namespace {
// Distinct storages (by data pointer) -> bytes.
std::map<const void*, int64_t> Storages(const ModelWeights& w) {
  std::map<const void*, int64_t> out;
  ForEachWeight(w, [&](const std::string&, const at::Tensor& t) {
    out[t.storage().data()] = static_cast<int64_t>(t.storage().nbytes());
  });
  return out;
}
}  // namespace

int64_t Model::parameter_count() const {
  std::set<const void*> seen;
  int64_t n = 0;
  ForEachWeight(weights_, [&](const std::string&, const at::Tensor& t) {
    if (seen.insert(t.data_ptr()).second) n += t.numel();
  });
  return n;
}

int64_t Model::bytes() const {
  int64_t n = 0;
  for (const auto& [ptr, b] : Storages(weights_)) n += b;
  return n;
}

int64_t Model::bytes_shared_with(const Model& other) const {
  const auto mine = Storages(weights_);
  const auto theirs = Storages(other.weights_);
  int64_t n = 0;
  for (const auto& [ptr, b] : mine) {
    if (theirs.count(ptr)) n += b;
  }
  return n;
}

}  // namespace prunegate
