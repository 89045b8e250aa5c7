// config.json of a Llama-family causal LM (Llama, Mistral, Qwen2). Torch-free.
#ifndef PRUNEGATE_SERVER_MODEL_CONFIG_H_
#define PRUNEGATE_SERVER_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace prunegate {

enum class Architecture { kLlama, kMistral, kQwen2 };
std::string ArchitectureName(Architecture arch);  // "LlamaForCausalLM", ...

enum class RopeScalingType { kNone, kLinear, kLlama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  // llama3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // null in the file -> num_attention_heads
  int64_t head_dim = 0;             // null in the file -> hidden_size / num_attention_heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v/o biases (Llama attention_bias); Qwen2 sets qkv_bias.
  bool qkv_bias = false;        // q/k/v biases only (always true for Qwen2)
  bool mlp_bias = false;
  int64_t sliding_window = 0;   // 0 = full attention
  std::vector<int64_t> bos_token_ids;  // usually one
  std::vector<int64_t> eos_token_ids;  // int or list in the file
  std::string torch_dtype;              // informational

  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
};

// Parses config.json text. `source` names the file in errors. Accepts `rope_scaling` or the newer
// `rope_parameters` (which may also carry rope_theta). Errors: INVALID_ARGUMENT for bad JSON,
// missing/mistyped/non-positive sizes, heads not dividing, unsupported hidden_act or rope type;
// UNIMPLEMENTED for an unsupported architecture (the message lists the supported ones).
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source = "config.json");
// Reads and parses `dir`/config.json.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir);
// Serializes back to a Hugging Face config.json (used by fixture makers and the trainer).
std::string ModelConfigToJson(const ModelConfig& config);

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_CONFIG_H_
