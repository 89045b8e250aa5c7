#include "server/model/config.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate {
namespace {

using ::prunegate::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

void ExpectConfigsEqual(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  EXPECT_EQ(a.rope_scaling.factor, b.rope_scaling.factor);
  EXPECT_EQ(a.rope_scaling.low_freq_factor, b.rope_scaling.low_freq_factor);
  EXPECT_EQ(a.rope_scaling.high_freq_factor, b.rope_scaling.high_freq_factor);
  EXPECT_EQ(a.rope_scaling.original_max_position_embeddings,
            b.rope_scaling.original_max_position_embeddings);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.qkv_bias, b.qkv_bias);
  EXPECT_EQ(a.mlp_bias, b.mlp_bias);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.bos_token_ids, b.bos_token_ids);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
}

constexpr char kFullLlama[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "vocab_size": 128, "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 3,
  "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 16,
  "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
  "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 128},
  "tie_word_embeddings": true, "hidden_act": "silu", "attention_bias": true, "mlp_bias": true,
  "bos_token_id": 5, "eos_token_id": [6, 7], "torch_dtype": "bfloat16",
  "attention_dropout": 0.0, "initializer_range": 0.02, "use_cache": true
})";

// A minimal config with `extra` spliced in (later keys are appended; nlohmann keeps the last).
std::string Minimal(const std::string& architecture, const std::string& extra = "") {
  return R"({"architectures": [")" + architecture +
         R"("], "vocab_size": 32, "hidden_size": 16, "intermediate_size": 24,
            "num_hidden_layers": 2, "num_attention_heads": 4)" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

TEST(ConfigTest, ParsesEveryLlamaField) {
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig c, ParseModelConfig(kFullLlama));
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.vocab_size, 128);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.q_dim(), 128);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_EQ(c.max_position_embeddings, 256);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 128);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_TRUE(c.mlp_bias);
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_THAT(c.bos_token_ids, ElementsAre(5));
  EXPECT_THAT(c.eos_token_ids, ElementsAre(6, 7));
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(ConfigTest, DefaultsWhenAbsent) {
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig c, ParseModelConfig(Minimal("LlamaForCausalLM")));
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_bias);
  EXPECT_THAT(c.bos_token_ids, IsEmpty());
  EXPECT_THAT(c.eos_token_ids, IsEmpty());
  EXPECT_EQ(c.torch_dtype, "");
}

TEST(ConfigTest, NullsMeanDefaults) {
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig c,
                          ParseModelConfig(Minimal("LlamaForCausalLM",
                                                   R"("num_key_value_heads": null, "head_dim": null,
                                  "rope_scaling": null, "rope_theta": null, "bos_token_id": null,
                                  "eos_token_id": 2, "hidden_act": null)")));
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_THAT(c.bos_token_ids, IsEmpty());
  EXPECT_THAT(c.eos_token_ids, ElementsAre(2));
}

TEST(ConfigTest, ModelTypeFallback) {
  const std::string json = R"({"model_type": "qwen2", "vocab_size": 32, "hidden_size": 16,
      "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4})";
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig c, ParseModelConfig(json));
  EXPECT_EQ(c.architecture, Architecture::kQwen2);
  EXPECT_THAT(ParseModelConfig(R"({"model_type": "gpt2", "vocab_size": 3})", "my/config.json"),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(HasSubstr("my/config.json"), HasSubstr("'gpt2'"),
                             HasSubstr("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"))));
}

TEST(ConfigTest, UnsupportedArchitectureListsSupported) {
  EXPECT_THAT(ParseModelConfig(Minimal("GPT2LMHeadModel"), "x/config.json"),
              StatusIs(absl::StatusCode::kUnimplemented,
                       AllOf(HasSubstr("x/config.json"), HasSubstr("'GPT2LMHeadModel'"),
                             HasSubstr("LlamaForCausalLM"), HasSubstr("MistralForCausalLM"),
                             HasSubstr("Qwen2ForCausalLM"))));
}

TEST(ConfigTest, RopeScalingLinearWithLegacyTypeKey) {
  PG_ASSERT_OK_AND_ASSIGN(
      ModelConfig c,
      ParseModelConfig(
          Minimal("LlamaForCausalLM", R"("rope_scaling": {"type": "linear", "factor": 2.0})")));
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 2.0);
  PG_ASSERT_OK_AND_ASSIGN(
      c,
      ParseModelConfig(Minimal("LlamaForCausalLM", R"("rope_scaling": {"rope_type": "default"})")));
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
}

TEST(ConfigTest, RopeParameters) {
  PG_ASSERT_OK_AND_ASSIGN(
      ModelConfig c,
      ParseModelConfig(Minimal("LlamaForCausalLM",
                               R"("rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0,
                                  "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8192})")));
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  PG_ASSERT_OK_AND_ASSIGN(c, ParseModelConfig(Minimal("MistralForCausalLM",
                                                      R"("rope_parameters": {"rope_type": "default",
                                     "rope_theta": 1000000.0})")));
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_scaling.type, RopeScalingType::kNone);
}

TEST(ConfigTest, UnsupportedRopeType) {
  EXPECT_THAT(
      ParseModelConfig(
          Minimal("LlamaForCausalLM", R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0})"),
          "c.json"),
      StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr("c.json"), HasSubstr("'yarn'"),
                                                         HasSubstr("default, linear, llama3"))));
  EXPECT_THAT(ParseModelConfig(
                  Minimal("LlamaForCausalLM", R"("rope_parameters": {"rope_type": "dynamic"})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'dynamic'")));
}

TEST(ConfigTest, RopeScalingMissingFields) {
  EXPECT_THAT(
      ParseModelConfig(Minimal("LlamaForCausalLM", R"("rope_scaling": {"rope_type": "linear"})")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rope_scaling.factor is missing")));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM",
                                       R"("rope_scaling": {"rope_type": "llama3", "factor": 8,
                                          "low_freq_factor": 1, "high_freq_factor": 4})")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("original_max_position_embeddings is missing")));
}

TEST(ConfigTest, HeadsMustDivide) {
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("num_key_value_heads": 3)")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("config.json"), HasSubstr("num_key_value_heads (3)"))));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("num_attention_heads": 5)")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("multiple of num_attention_heads (5)")));
  // An explicit head_dim lifts the hidden_size % heads requirement.
  PG_ASSERT_OK_AND_ASSIGN(
      ModelConfig c,
      ParseModelConfig(Minimal("LlamaForCausalLM", R"("num_attention_heads": 5, "head_dim": 8)")));
  EXPECT_EQ(c.q_dim(), 40);
}

TEST(ConfigTest, MissingAndInvalidSizes) {
  EXPECT_THAT(ParseModelConfig(R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 3})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden_size is missing")));
  EXPECT_THAT(
      ParseModelConfig(Minimal("LlamaForCausalLM", R"("vocab_size": 0)")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vocab_size must be positive")));
  EXPECT_THAT(
      ParseModelConfig(Minimal("LlamaForCausalLM", R"("hidden_size": "16")")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden_size must be an integer")));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("num_hidden_layers": 2.5)")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("num_hidden_layers must be an integer")));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("rms_norm_eps": 0)")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rms_norm_eps")));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("rope_theta": -1)")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rope_theta")));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("head_dim": -8)")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("head_dim must be positive")));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("eos_token_id": "x")")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("eos_token_id")));
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("tie_word_embeddings": 1)")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tie_word_embeddings")));
}

TEST(ConfigTest, UnsupportedActivation) {
  EXPECT_THAT(ParseModelConfig(Minimal("LlamaForCausalLM", R"("hidden_act": "gelu")")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'gelu'")));
}

TEST(ConfigTest, BadJson) {
  EXPECT_THAT(ParseModelConfig("{\"vocab_size\": ", "dir/config.json"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("dir/config.json"), HasSubstr("not valid JSON"))));
  EXPECT_THAT(ParseModelConfig("[1]", "dir/config.json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected a JSON object")));
}

TEST(ConfigTest, Qwen2BiasAndSlidingWindow) {
  PG_ASSERT_OK_AND_ASSIGN(
      ModelConfig c, ParseModelConfig(Minimal("Qwen2ForCausalLM",
                                              R"("use_sliding_window": false, "sliding_window": 32,
                                  "max_window_layers": 21, "attention_bias": true)")));
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.sliding_window, 0);
  PG_ASSERT_OK_AND_ASSIGN(
      c, ParseModelConfig(Minimal("Qwen2ForCausalLM",
                                  R"("use_sliding_window": true, "sliding_window": 32,
                                     "max_window_layers": 0)")));
  EXPECT_EQ(c.sliding_window, 32);
  // transformers: only layers >= max_window_layers slide; with 2 layers and 28, none does.
  PG_ASSERT_OK_AND_ASSIGN(
      c, ParseModelConfig(
             Minimal("Qwen2ForCausalLM", R"("use_sliding_window": true, "sliding_window": 32)")));
  EXPECT_EQ(c.sliding_window, 0);
  EXPECT_THAT(ParseModelConfig(Minimal("Qwen2ForCausalLM",
                                       R"("use_sliding_window": true, "sliding_window": 32,
                                          "max_window_layers": 1)")),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("max_window_layers=1")));
}

TEST(ConfigTest, MistralSlidingWindow) {
  PG_ASSERT_OK_AND_ASSIGN(
      ModelConfig c, ParseModelConfig(Minimal("MistralForCausalLM", R"("sliding_window": 4)")));
  EXPECT_EQ(c.architecture, Architecture::kMistral);
  EXPECT_EQ(c.sliding_window, 4);
  EXPECT_FALSE(c.qkv_bias);
  PG_ASSERT_OK_AND_ASSIGN(
      c, ParseModelConfig(Minimal("MistralForCausalLM", R"("sliding_window": null)")));
  EXPECT_EQ(c.sliding_window, 0);
  PG_ASSERT_OK_AND_ASSIGN(c, ParseModelConfig(Minimal("MistralForCausalLM")));
  EXPECT_EQ(c.sliding_window, 4096);  // MistralConfig's default
  EXPECT_THAT(ParseModelConfig(Minimal("MistralForCausalLM", R"("sliding_window": -1)")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sliding_window")));
}

TEST(ConfigTest, ArchitectureNames) {
  EXPECT_EQ(ArchitectureName(Architecture::kLlama), "LlamaForCausalLM");
  EXPECT_EQ(ArchitectureName(Architecture::kMistral), "MistralForCausalLM");
  EXPECT_EQ(ArchitectureName(Architecture::kQwen2), "Qwen2ForCausalLM");
}

TEST(ConfigTest, RoundTripThroughJson) {
  std::vector<ModelConfig> configs;
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig llama, ParseModelConfig(kFullLlama));
  configs.push_back(llama);
  PG_ASSERT_OK_AND_ASSIGN(
      ModelConfig linear,
      ParseModelConfig(Minimal("LlamaForCausalLM",
                               R"("rope_scaling": {"type": "linear", "factor": 2.5},
                                  "rms_norm_eps": 1e-6, "bos_token_id": [1, 3])")));
  configs.push_back(linear);
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig mistral, ParseModelConfig(Minimal("MistralForCausalLM",
                                                                        R"("sliding_window": 7)")));
  configs.push_back(mistral);
  PG_ASSERT_OK_AND_ASSIGN(
      ModelConfig mistral_full,
      ParseModelConfig(
          Minimal("MistralForCausalLM", R"("sliding_window": null, "tie_word_embeddings": true)")));
  configs.push_back(mistral_full);
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig qwen, ParseModelConfig(Minimal(
                                                "Qwen2ForCausalLM",
                                                R"("use_sliding_window": true, "sliding_window": 32,
                                  "max_window_layers": 0, "rope_theta": 1000000.0)")));
  configs.push_back(qwen);
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig qwen_full, ParseModelConfig(Minimal("Qwen2ForCausalLM")));
  configs.push_back(qwen_full);
  for (const ModelConfig& original : configs) {
    const std::string json = ModelConfigToJson(original);
    SCOPED_TRACE(json);
    PG_ASSERT_OK_AND_ASSIGN(ModelConfig parsed, ParseModelConfig(json));
    ExpectConfigsEqual(parsed, original);
    EXPECT_EQ(ModelConfigToJson(parsed), json);
  }
}

TEST(ConfigTest, LoadModelConfigFromDirectory) {
  const std::string dir = testing::MakeTempDir("config_test");
  EXPECT_THAT(LoadModelConfig(dir),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir + "/config.json")));
  std::ofstream(dir + "/config.json") << Minimal("LlamaForCausalLM", R"("hidden_act": "relu")");
  EXPECT_THAT(LoadModelConfig(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(dir + "/config.json"), HasSubstr("'relu'"))));
  std::ofstream(dir + "/config.json") << Minimal("LlamaForCausalLM");
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig c, LoadModelConfig(dir));
  EXPECT_EQ(c.hidden_size, 16);
}

TEST(ConfigTest, Stories260KParses) {
  PG_SHARED_DIR_OR_SKIP(shared);
  PG_ASSERT_OK_AND_ASSIGN(ModelConfig c, LoadModelConfig(shared + "/models/stories260K"));
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_THAT(c.bos_token_ids, ElementsAre(1));
  EXPECT_THAT(c.eos_token_ids, ElementsAre(2));
}

}  // namespace
}  // namespace prunegate
