#include "server/model/config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"

namespace prunegate {
namespace {

using Json = nlohmann::json;

constexpr char kSupportedArchitectures[] = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM";
constexpr char kSupportedRopeTypes[] = "default, linear, llama3";
// transformers' Mistral/Qwen2 config class defaults, used when the file omits the field.
constexpr int64_t kMistralDefaultSlidingWindow = 4096;
constexpr int64_t kQwen2DefaultMaxWindowLayers = 28;

// Typed field access with errors naming the file and the field.
class Fields {
 public:
  Fields(const Json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  absl::Status Error(const std::string& key, absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", prefix_, key, " ", what));
  }
  const std::string& source() const { return source_; }
  bool Has(const std::string& key) const { return object_.contains(key); }
  // Null when absent or JSON null.
  const Json* Get(const std::string& key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  absl::StatusOr<std::optional<int64_t>> OptionalInt(const std::string& key) const {
    const Json* v = Get(key);
    if (v == nullptr) return std::optional<int64_t>();
    if (v->is_number_integer() &&
        !(v->is_number_unsigned() && v->get<uint64_t>() > std::numeric_limits<int64_t>::max())) {
      return std::optional<int64_t>(v->get<int64_t>());
    }
    return Error(key, absl::StrCat("must be an integer, got ", v->dump()));
  }
  absl::StatusOr<std::optional<int64_t>> OptionalPositiveInt(const std::string& key) const {
    PG_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptionalInt(key));
    if (v && *v <= 0) return Error(key, absl::StrCat("must be positive, got ", *v));
    return v;
  }
  absl::StatusOr<int64_t> PositiveInt(const std::string& key) const {
    PG_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptionalPositiveInt(key));
    if (!v) return Error(key, "is missing");
    return *v;
  }
  absl::StatusOr<double> PositiveDouble(const std::string& key, double fallback) const {
    const Json* v = Get(key);
    if (v == nullptr) return fallback;
    if (!v->is_number()) return Error(key, absl::StrCat("must be a number, got ", v->dump()));
    double d = v->get<double>();
    if (!(d > 0) || !std::isfinite(d)) {
      return Error(key, absl::StrCat("must be a positive number, got ", v->dump()));
    }
    return d;
  }
  absl::StatusOr<double> RequiredPositiveDouble(const std::string& key) const {
    if (Get(key) == nullptr) return Error(key, "is missing");
    return PositiveDouble(key, 0);
  }
  absl::StatusOr<bool> Bool(const std::string& key, bool fallback) const {
    const Json* v = Get(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return Error(key, absl::StrCat("must be true or false, got ", v->dump()));
    return v->get<bool>();
  }
  absl::StatusOr<std::optional<std::string>> OptionalString(const std::string& key) const {
    const Json* v = Get(key);
    if (v == nullptr) return std::optional<std::string>();
    if (!v->is_string()) return Error(key, absl::StrCat("must be a string, got ", v->dump()));
    return std::optional<std::string>(v->get<std::string>());
  }
  // int, list of ints, or null -> list.
  absl::StatusOr<std::vector<int64_t>> TokenIds(const std::string& key) const {
    std::vector<int64_t> ids;
    const Json* v = Get(key);
    if (v == nullptr) return ids;
    std::vector<Json> items = v->is_array() ? v->get<std::vector<Json>>() : std::vector<Json>{*v};
    for (const Json& item : items) {
      if (!item.is_number_integer() || item.get<int64_t>() < 0) {
        return Error(key, absl::StrCat("must be a token id or a list of them, got ", v->dump()));
      }
      ids.push_back(item.get<int64_t>());
    }
    return ids;
  }

 private:
  const Json& object_;
  std::string source_;
  std::string prefix_;
};

absl::StatusOr<Architecture> ParseArchitecture(const Json& root, const std::string& source) {
  Fields fields(root, source);
  if (const Json* archs = fields.Get("architectures")) {
    if (!archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
      return fields.Error("architectures", "must be a non-empty list of class names");
    }
    const std::string name = (*archs)[0].get<std::string>();
    if (name == "LlamaForCausalLM") return Architecture::kLlama;
    if (name == "MistralForCausalLM") return Architecture::kMistral;
    if (name == "Qwen2ForCausalLM") return Architecture::kQwen2;
    return absl::UnimplementedError(absl::StrCat(source, ": unsupported architecture '", name,
                                                 "'; supported: ", kSupportedArchitectures));
  }
  PG_ASSIGN_OR_RETURN(std::optional<std::string> model_type, fields.OptionalString("model_type"));
  if (!model_type) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": neither \"architectures\" nor \"model_type\" names the model architecture"));
  }
  if (*model_type == "llama") return Architecture::kLlama;
  if (*model_type == "mistral") return Architecture::kMistral;
  if (*model_type == "qwen2") return Architecture::kQwen2;
  return absl::UnimplementedError(absl::StrCat(source, ": unsupported model_type '", *model_type,
                                               "'; supported: ", kSupportedArchitectures,
                                               " (llama, mistral, qwen2)"));
}

// `rope_scaling` or `rope_parameters`; may also set rope_theta (rope_parameters only).
absl::Status ParseRope(const Json& rope, const std::string& source, const std::string& field,
                       ModelConfig& config) {
  if (!rope.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", field, " must be an object or null, got ", rope.dump()));
  }
  Fields fields(rope, source, field + ".");
  PG_ASSIGN_OR_RETURN(config.rope_theta, fields.PositiveDouble("rope_theta", config.rope_theta));
  PG_ASSIGN_OR_RETURN(std::optional<std::string> type, fields.OptionalString("rope_type"));
  if (!type) {
    PG_ASSIGN_OR_RETURN(type, fields.OptionalString("type"));
  }
  RopeScaling scaling;
  if (!type || *type == "default") {
    config.rope_scaling = scaling;
    return absl::OkStatus();
  }
  if (*type == "linear") {
    scaling.type = RopeScalingType::kLinear;
    PG_ASSIGN_OR_RETURN(scaling.factor, fields.RequiredPositiveDouble("factor"));
  } else if (*type == "llama3") {
    scaling.type = RopeScalingType::kLlama3;
    PG_ASSIGN_OR_RETURN(scaling.factor, fields.RequiredPositiveDouble("factor"));
    PG_ASSIGN_OR_RETURN(scaling.low_freq_factor, fields.RequiredPositiveDouble("low_freq_factor"));
    PG_ASSIGN_OR_RETURN(scaling.high_freq_factor,
                        fields.RequiredPositiveDouble("high_freq_factor"));
    PG_ASSIGN_OR_RETURN(std::optional<int64_t> original,
                        fields.OptionalPositiveInt("original_max_position_embeddings"));
    if (!original) return fields.Error("original_max_position_embeddings", "is missing");
    scaling.original_max_position_embeddings = *original;
    if (!(scaling.high_freq_factor > scaling.low_freq_factor)) {
      return fields.Error("high_freq_factor", "must be greater than low_freq_factor");
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", field, " type '", *type,
                     "' is not supported; supported: ", kSupportedRopeTypes));
  }
  config.rope_scaling = scaling;
  return absl::OkStatus();
}

absl::Status ParseSlidingWindow(const Fields& fields, ModelConfig& config) {
  config.sliding_window = 0;
  if (config.architecture == Architecture::kMistral) {
    // Absent (not null) means the MistralConfig default; null means full attention.
    if (!fields.Has("sliding_window")) {
      config.sliding_window = kMistralDefaultSlidingWindow;
      return absl::OkStatus();
    }
    PG_ASSIGN_OR_RETURN(std::optional<int64_t> window,
                        fields.OptionalPositiveInt("sliding_window"));
    config.sliding_window = window.value_or(0);
    return absl::OkStatus();
  }
  if (config.architecture == Architecture::kQwen2) {
    PG_ASSIGN_OR_RETURN(bool use_window, fields.Bool("use_sliding_window", false));
    if (!use_window) return absl::OkStatus();
    PG_ASSIGN_OR_RETURN(std::optional<int64_t> window,
                        fields.OptionalPositiveInt("sliding_window"));
    if (!window) return fields.Error("sliding_window", "is required when use_sliding_window");
    PG_ASSIGN_OR_RETURN(std::optional<int64_t> max_window_layers,
                        fields.OptionalInt("max_window_layers"));
    // transformers: layers with index >= max_window_layers use the window.
    int64_t first = max_window_layers.value_or(kQwen2DefaultMaxWindowLayers);
    if (first >= config.num_hidden_layers) return absl::OkStatus();
    if (first > 0) {
      return absl::UnimplementedError(
          absl::StrCat(fields.source(), ": per-layer sliding window (max_window_layers=", first,
                       " of ", config.num_hidden_layers, " layers) is not supported"));
    }
    config.sliding_window = *window;
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseRoot(const Json& root, const std::string& source) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));
  }
  Fields fields(root, source);
  ModelConfig config;
  PG_ASSIGN_OR_RETURN(config.architecture, ParseArchitecture(root, source));
  PG_ASSIGN_OR_RETURN(config.vocab_size, fields.PositiveInt("vocab_size"));
  PG_ASSIGN_OR_RETURN(config.hidden_size, fields.PositiveInt("hidden_size"));
  PG_ASSIGN_OR_RETURN(config.intermediate_size, fields.PositiveInt("intermediate_size"));
  PG_ASSIGN_OR_RETURN(config.num_hidden_layers, fields.PositiveInt("num_hidden_layers"));
  PG_ASSIGN_OR_RETURN(config.num_attention_heads, fields.PositiveInt("num_attention_heads"));
  PG_ASSIGN_OR_RETURN(std::optional<int64_t> kv_heads,
                      fields.OptionalPositiveInt("num_key_value_heads"));
  config.num_key_value_heads = kv_heads.value_or(config.num_attention_heads);
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    return fields.Error("num_attention_heads",
                        absl::StrCat("(", config.num_attention_heads,
                                     ") must be a multiple of num_key_value_heads (",
                                     config.num_key_value_heads, ")"));
  }
  PG_ASSIGN_OR_RETURN(std::optional<int64_t> head_dim, fields.OptionalPositiveInt("head_dim"));
  if (!head_dim && config.hidden_size % config.num_attention_heads != 0) {
    return fields.Error(
        "hidden_size",
        absl::StrCat("(", config.hidden_size, ") must be a multiple of num_attention_heads (",
                     config.num_attention_heads, ") when head_dim is not given"));
  }
  config.head_dim = head_dim.value_or(config.hidden_size / config.num_attention_heads);
  PG_ASSIGN_OR_RETURN(std::optional<int64_t> max_positions,
                      fields.OptionalPositiveInt("max_position_embeddings"));
  if (max_positions) config.max_position_embeddings = *max_positions;
  PG_ASSIGN_OR_RETURN(config.rms_norm_eps,
                      fields.PositiveDouble("rms_norm_eps", config.rms_norm_eps));
  PG_ASSIGN_OR_RETURN(std::optional<std::string> act, fields.OptionalString("hidden_act"));
  if (act && *act != "silu") {
    return fields.Error("hidden_act", absl::StrCat("'", *act, "' is not supported; only silu"));
  }

  PG_ASSIGN_OR_RETURN(config.rope_theta, fields.PositiveDouble("rope_theta", 10000.0));
  if (const Json* params = fields.Get("rope_parameters")) {
    PG_RETURN_IF_ERROR(ParseRope(*params, source, "rope_parameters", config));
  } else if (const Json* scaling = fields.Get("rope_scaling")) {
    ModelConfig copy = config;  // rope_scaling must not carry rope_theta; keep the top-level one
    PG_RETURN_IF_ERROR(ParseRope(*scaling, source, "rope_scaling", copy));
    config.rope_scaling = copy.rope_scaling;
  }

  PG_ASSIGN_OR_RETURN(config.tie_word_embeddings, fields.Bool("tie_word_embeddings", false));
  if (config.architecture == Architecture::kLlama) {
    PG_ASSIGN_OR_RETURN(config.attention_bias, fields.Bool("attention_bias", false));
    PG_ASSIGN_OR_RETURN(config.mlp_bias, fields.Bool("mlp_bias", false));
  }
  config.qkv_bias = config.architecture == Architecture::kQwen2;
  PG_RETURN_IF_ERROR(ParseSlidingWindow(fields, config));
  PG_ASSIGN_OR_RETURN(config.bos_token_ids, fields.TokenIds("bos_token_id"));
  PG_ASSIGN_OR_RETURN(config.eos_token_ids, fields.TokenIds("eos_token_id"));
  PG_ASSIGN_OR_RETURN(std::optional<std::string> dtype, fields.OptionalString("torch_dtype"));
  if (!dtype) {
    PG_ASSIGN_OR_RETURN(dtype, fields.OptionalString("dtype"));
  }
  config.torch_dtype = dtype.value_or("");
  return config;
}

nlohmann::ordered_json TokenIdsToJson(const std::vector<int64_t>& ids) {
  if (ids.empty()) return nullptr;
  if (ids.size() == 1) return ids[0];
  return ids;
}

}  // namespace

std::string ArchitectureName(Architecture arch) {
  switch (arch) {
    case Architecture::kLlama:
      return "LlamaForCausalLM";
    case Architecture::kMistral:
      return "MistralForCausalLM";
    case Architecture::kQwen2:
      return "Qwen2ForCausalLM";
  }
  return "unknown";
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source) {
  try {
    Json root = Json::parse(json_text);
    return ParseRoot(root, source);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON: ", e.what()));
  }
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read failed"));
  return ParseModelConfig(text.str(), path);
}

std::string ModelConfigToJson(const ModelConfig& config) {
  using OJson = nlohmann::ordered_json;
  OJson j;
  j["architectures"] = {ArchitectureName(config.architecture)};
  switch (config.architecture) {
    case Architecture::kLlama:
      j["model_type"] = "llama";
      break;
    case Architecture::kMistral:
      j["model_type"] = "mistral";
      break;
    case Architecture::kQwen2:
      j["model_type"] = "qwen2";
      break;
  }
  j["vocab_size"] = config.vocab_size;
  j["hidden_size"] = config.hidden_size;
  j["intermediate_size"] = config.intermediate_size;
  j["num_hidden_layers"] = config.num_hidden_layers;
  j["num_attention_heads"] = config.num_attention_heads;
  j["num_key_value_heads"] = config.num_key_value_heads;
  j["head_dim"] = config.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = config.max_position_embeddings;
  j["rms_norm_eps"] = config.rms_norm_eps;
  j["rope_theta"] = config.rope_theta;
  const RopeScaling& rope = config.rope_scaling;
  if (rope.type == RopeScalingType::kNone) {
    j["rope_scaling"] = nullptr;
  } else if (rope.type == RopeScalingType::kLinear) {
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope.factor}};
  } else {
    j["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", rope.factor},
        {"low_freq_factor", rope.low_freq_factor},
        {"high_freq_factor", rope.high_freq_factor},
        {"original_max_position_embeddings", rope.original_max_position_embeddings}};
  }
  j["tie_word_embeddings"] = config.tie_word_embeddings;
  if (config.architecture == Architecture::kLlama) {
    j["attention_bias"] = config.attention_bias;
    j["mlp_bias"] = config.mlp_bias;
  } else if (config.architecture == Architecture::kMistral) {
    j["sliding_window"] = config.sliding_window > 0 ? OJson(config.sliding_window) : OJson(nullptr);
  } else {
    j["use_sliding_window"] = config.sliding_window > 0;
    j["sliding_window"] = config.sliding_window > 0 ? OJson(config.sliding_window) : OJson(nullptr);
    j["max_window_layers"] = 0;
  }
  j["bos_token_id"] = TokenIdsToJson(config.bos_token_ids);
  j["eos_token_id"] = TokenIdsToJson(config.eos_token_ids);
  if (!config.torch_dtype.empty()) j["torch_dtype"] = config.torch_dtype;
  return j.dump(2) + "\n";
}

}  // namespace prunegate
