#include "server/model/checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/model/config.h"
#include "tests/fixtures/fixture_checkpoints.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate {
namespace {

using ::prunegate::testing::FixtureVariant;
using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr char kEmbed[] = "model.embed_tokens.weight";
constexpr char kLmHead[] = "lm_head.weight";

std::string Bytes(const TensorView& v) {
  return std::string(reinterpret_cast<const char*>(v.data), v.nbytes);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = testing::MakeTempDir("checkpoint_test"); }

  std::string Fixture(FixtureVariant variant, uint64_t seed = 1) {
    std::string dir =
        (fs::path(root_) / (testing::FixtureVariantName(variant) + "-" + std::to_string(seed)))
            .string();
    EXPECT_THAT(testing::WriteFixtureCheckpoint(dir, variant, seed), IsOk());
    return dir;
  }

  // Writes an index with `weight_map` into dir.
  void WriteIndex(const std::string& dir, const nlohmann::json& weight_map) {
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
    WriteText(dir + "/model.safetensors.index.json", index.dump());
  }

  std::string root_;
};

TEST_F(CheckpointTest, MissingDirectory) {
  const std::string dir = root_ + "/nope";
  EXPECT_THAT(Checkpoint::Open(dir), StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir)));
}

TEST_F(CheckpointTest, DirectoryWithoutWeights) {
  EXPECT_THAT(Checkpoint::Open(root_),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr(root_), HasSubstr("model.safetensors"))));
}

TEST_F(CheckpointTest, CorruptFileNamesFileAndTensor) {
  const std::string path = root_ + "/model.safetensors";
  ASSERT_THAT(testing::WriteRawSafetensors(
                  path, R"({"w": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}})",
                  std::string(4, '\0')),
              IsOk());
  EXPECT_THAT(Checkpoint::Open(root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path), HasSubstr("tensor 'w'"), HasSubstr("'F12'"))));
}

TEST_F(CheckpointTest, MissingShardFile) {
  const std::string dir = Fixture(FixtureVariant::kLlamaSharded);
  ASSERT_TRUE(fs::remove(dir + "/model-00002-of-00003.safetensors"));
  EXPECT_THAT(Checkpoint::Open(dir), StatusIs(absl::StatusCode::kNotFound,
                                              AllOf(HasSubstr("model-00002-of-00003.safetensors"),
                                                    HasSubstr("model.safetensors.index.json"))));
}

TEST_F(CheckpointTest, ShardNameWithPathTraversal) {
  const std::string dir = Fixture(FixtureVariant::kLlamaSharded);
  nlohmann::json index = nlohmann::json::parse(ReadText(dir + "/model.safetensors.index.json"));
  index["weight_map"]["model.norm.weight"] = "../model-00003-of-00003.safetensors";
  WriteText(dir + "/model.safetensors.index.json", index.dump());
  EXPECT_THAT(Checkpoint::Open(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("model.safetensors.index.json"),
                             HasSubstr("tensor 'model.norm.weight'"),
                             HasSubstr("'../model-00003-of-00003.safetensors'"))));
  index["weight_map"]["model.norm.weight"] = "sub/model-00003-of-00003.safetensors";
  WriteText(dir + "/model.safetensors.index.json", index.dump());
  EXPECT_THAT(Checkpoint::Open(dir),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a plain file name")));
}

TEST_F(CheckpointTest, IndexedTensorAbsentFromItsShard) {
  const std::string dir = Fixture(FixtureVariant::kLlamaSharded);
  nlohmann::json index = nlohmann::json::parse(ReadText(dir + "/model.safetensors.index.json"));
  index["weight_map"]["model.ghost.weight"] = "model-00001-of-00003.safetensors";
  WriteText(dir + "/model.safetensors.index.json", index.dump());
  EXPECT_THAT(Checkpoint::Open(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("model.safetensors.index.json"),
                             HasSubstr("tensor 'model.ghost.weight'"),
                             HasSubstr("model-00001-of-00003.safetensors"))));
  // A tensor mapped to the wrong (existing) shard is reported the same way.
  index["weight_map"].erase("model.ghost.weight");
  index["weight_map"]["model.norm.weight"] = "model-00001-of-00003.safetensors";
  WriteText(dir + "/model.safetensors.index.json", index.dump());
  EXPECT_THAT(Checkpoint::Open(dir), StatusIs(absl::StatusCode::kInvalidArgument,
                                              AllOf(HasSubstr("tensor 'model.norm.weight'"),
                                                    HasSubstr("does not contain it"))));
}

TEST_F(CheckpointTest, TensorInTwoShards) {
  const std::string one(4, '\0');
  ASSERT_THAT(WriteSafetensors(root_ + "/a.safetensors",
                               {{"x", DType::kF32, {1}, one}, {"y", DType::kF32, {1}, one}}),
              IsOk());
  ASSERT_THAT(WriteSafetensors(root_ + "/b.safetensors", {{"y", DType::kF32, {1}, one}}), IsOk());
  WriteIndex(root_, {{"x", "a.safetensors"}, {"y", "b.safetensors"}});
  EXPECT_THAT(Checkpoint::Open(root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tensor 'y'"), HasSubstr("two shards"),
                             HasSubstr("a.safetensors"), HasSubstr("b.safetensors"))));
}

TEST_F(CheckpointTest, IndexWithoutWeightMap) {
  ASSERT_THAT(WriteSafetensors(root_ + "/model.safetensors", {}), IsOk());
  WriteText(root_ + "/model.safetensors.index.json", R"({"metadata": {"total_size": 0}})");
  EXPECT_THAT(Checkpoint::Open(root_), StatusIs(absl::StatusCode::kInvalidArgument,
                                                AllOf(HasSubstr("model.safetensors.index.json"),
                                                      HasSubstr("\"weight_map\""))));
  WriteText(root_ + "/model.safetensors.index.json", R"({"weight_map": {"x": 3}})");
  EXPECT_THAT(Checkpoint::Open(root_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tensor 'x'"), HasSubstr("not a string"))));
  WriteText(root_ + "/model.safetensors.index.json", "{\"weight_map\": ");
  EXPECT_THAT(Checkpoint::Open(root_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
}

TEST_F(CheckpointTest, AliasResolvesOnce) {
  const std::string one(4, '\0');
  const std::string two("\x01\x00\x00\x00", 4);
  ASSERT_THAT(WriteSafetensors(root_ + "/model.safetensors",
                               {{"c", DType::kF32, {1}, one}, {"d", DType::kF32, {1}, two}},
                               {{"a", "b"}, {"b", "c"}, {"e", "d"}, {"f", "missing"}}),
              IsOk());
  PG_ASSERT_OK_AND_ASSIGN(auto checkpoint, Checkpoint::Open(root_));
  ASSERT_NE(checkpoint->Find("e"), nullptr);
  EXPECT_EQ(checkpoint->Find("e")->name, "d");
  EXPECT_EQ(checkpoint->FileOf("e"), checkpoint->FileOf("d"));
  EXPECT_EQ(checkpoint->Find("b")->name, "c");
  EXPECT_EQ(checkpoint->Find("a"), nullptr);  // a -> b is not followed further
  EXPECT_EQ(checkpoint->FileOf("a"), nullptr);
  EXPECT_EQ(checkpoint->Find("f"), nullptr);
  EXPECT_EQ(checkpoint->Find("zzz"), nullptr);
  EXPECT_EQ(checkpoint->FileOf("zzz"), nullptr);
  EXPECT_THAT(checkpoint->TensorNames(), ElementsAre("c", "d"));
  EXPECT_EQ(checkpoint->total_bytes(), 8u);
}

TEST_F(CheckpointTest, TiedAliasFixtureResolvesEmbedding) {
  PG_ASSERT_OK_AND_ASSIGN(auto checkpoint, Checkpoint::Open(Fixture(FixtureVariant::kTiedAlias)));
  EXPECT_EQ(checkpoint->metadata().at(kEmbed), kLmHead);
  EXPECT_EQ(checkpoint->metadata().at("format"), "pt");
  const TensorView* embed = checkpoint->Find(kEmbed);
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->name, kLmHead);
  EXPECT_THAT(embed->shape, ElementsAre(64, 32));
  ASSERT_NE(checkpoint->FileOf(kEmbed), nullptr);
  EXPECT_EQ(checkpoint->FileOf(kEmbed)->Find(kLmHead), embed);
}

// Expected stored tensor names for a variant.
std::set<std::string> ExpectedNames(const testing::FixtureSpec& spec) {
  std::set<std::string> names;
  for (const auto& t : testing::RandomWeights(spec.config, 1)) names.insert(t.name);
  if (spec.config.tie_word_embeddings) {
    if (spec.tied == testing::TiedLayout::kAlias) names.erase(kEmbed);
    if (spec.tied != testing::TiedLayout::kAbsent) names.insert(kLmHead);
  }
  return names;
}

TEST_F(CheckpointTest, EveryFixtureVariantReopens) {
  for (FixtureVariant variant : testing::AllFixtureVariants()) {
    SCOPED_TRACE(testing::FixtureVariantName(variant));
    EXPECT_EQ(testing::ParseFixtureVariant(testing::FixtureVariantName(variant)), variant);
    const testing::FixtureSpec spec = testing::GetFixtureSpec(variant);
    const std::string dir = Fixture(variant);
    PG_ASSERT_OK_AND_ASSIGN(auto checkpoint, Checkpoint::Open(dir));
    PG_ASSERT_OK_AND_ASSIGN(ModelConfig config, LoadModelConfig(dir));
    EXPECT_EQ(ModelConfigToJson(config), ModelConfigToJson(spec.config));
    EXPECT_TRUE(fs::exists(dir + "/generation_config.json"));
    EXPECT_EQ(fs::exists(dir + "/model.safetensors.index.json"), spec.num_shards > 1);

    const std::vector<std::string> names = checkpoint->TensorNames();
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), ExpectedNames(spec));
    size_t bytes = 0;
    for (const auto& t : testing::RandomWeights(config, 1)) {
      const TensorView* view = checkpoint->Find(t.name);
      ASSERT_NE(view, nullptr) << t.name;
      EXPECT_EQ(view->shape, t.shape) << t.name;
      EXPECT_EQ(view->dtype, spec.storage) << t.name;
      bytes += view->nbytes;
    }
    const TensorView* embed = checkpoint->Find(kEmbed);
    ASSERT_NE(embed, nullptr);
    EXPECT_THAT(embed->shape, ElementsAre(config.vocab_size, config.hidden_size));
    if (!config.tie_word_embeddings) EXPECT_NE(checkpoint->Find(kLmHead), nullptr);
    if (spec.tied == testing::TiedLayout::kBoth && config.tie_word_embeddings) {
      bytes += embed->nbytes;
    }
    EXPECT_EQ(checkpoint->total_bytes(), bytes);
  }
}

TEST_F(CheckpointTest, FixtureShapesFollowConfig) {
  PG_ASSERT_OK_AND_ASSIGN(auto qwen, Checkpoint::Open(Fixture(FixtureVariant::kQwen2)));
  EXPECT_THAT(qwen->Find("model.layers.1.self_attn.q_proj.bias")->shape, ElementsAre(32));
  EXPECT_THAT(qwen->Find("model.layers.1.self_attn.k_proj.bias")->shape, ElementsAre(16));
  EXPECT_EQ(qwen->Find("model.layers.1.self_attn.o_proj.bias"), nullptr);
  EXPECT_EQ(qwen->Find(kLmHead), nullptr);
  PG_ASSERT_OK_AND_ASSIGN(auto wide, Checkpoint::Open(Fixture(FixtureVariant::kHeadDimOverride)));
  EXPECT_THAT(wide->Find("model.layers.0.self_attn.q_proj.weight")->shape, ElementsAre(64, 32));
  EXPECT_THAT(wide->Find("model.layers.0.self_attn.k_proj.weight")->shape, ElementsAre(32, 32));
  EXPECT_THAT(wide->Find("model.layers.0.self_attn.o_proj.weight")->shape, ElementsAre(32, 64));
  EXPECT_THAT(wide->Find("model.layers.0.mlp.down_proj.weight")->shape, ElementsAre(32, 48));
}

TEST_F(CheckpointTest, ShardedAndUnshardedAreByteIdentical) {
  PG_ASSERT_OK_AND_ASSIGN(auto single, Checkpoint::Open(Fixture(FixtureVariant::kLlama)));
  const std::string sharded_dir = Fixture(FixtureVariant::kLlamaSharded);
  PG_ASSERT_OK_AND_ASSIGN(auto sharded, Checkpoint::Open(sharded_dir));
  EXPECT_TRUE(fs::exists(sharded_dir + "/model-00003-of-00003.safetensors"));
  EXPECT_FALSE(fs::exists(sharded_dir + "/model.safetensors"));
  EXPECT_NE(sharded->FileOf(kEmbed), sharded->FileOf(kLmHead));
  ASSERT_EQ(single->TensorNames(), sharded->TensorNames());
  for (const std::string& name : single->TensorNames()) {
    EXPECT_EQ(Bytes(*single->Find(name)), Bytes(*sharded->Find(name))) << name;
  }
  EXPECT_EQ(single->total_bytes(), sharded->total_bytes());
  nlohmann::json index =
      nlohmann::json::parse(ReadText(sharded_dir + "/model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<size_t>(), sharded->total_bytes());
}

TEST_F(CheckpointTest, StorageVariantsRoundFromF32) {
  PG_ASSERT_OK_AND_ASSIGN(auto f32, Checkpoint::Open(Fixture(FixtureVariant::kLlama)));
  PG_ASSERT_OK_AND_ASSIGN(auto bf16, Checkpoint::Open(Fixture(FixtureVariant::kLlamaBf16)));
  PG_ASSERT_OK_AND_ASSIGN(auto f16, Checkpoint::Open(Fixture(FixtureVariant::kLlamaF16)));
  for (const std::string& name : f32->TensorNames()) {
    PG_ASSERT_OK_AND_ASSIGN(std::vector<float> values, testing::DecodeFloats(*f32->Find(name)));
    EXPECT_EQ(Bytes(*bf16->Find(name)), testing::EncodeFloats(values, DType::kBF16)) << name;
    EXPECT_EQ(Bytes(*f16->Find(name)), testing::EncodeFloats(values, DType::kF16)) << name;
    PG_ASSERT_OK_AND_ASSIGN(std::vector<float> rounded, testing::DecodeFloats(*bf16->Find(name)));
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_NEAR(rounded[i], values[i], std::abs(values[i]) / 128 + 1e-30) << name;
    }
  }
}

TEST_F(CheckpointTest, TiedVariantsShareEmbedding) {
  PG_ASSERT_OK_AND_ASSIGN(auto untied, Checkpoint::Open(Fixture(FixtureVariant::kLlama)));
  PG_ASSERT_OK_AND_ASSIGN(auto absent, Checkpoint::Open(Fixture(FixtureVariant::kTiedAbsent)));
  PG_ASSERT_OK_AND_ASSIGN(auto alias, Checkpoint::Open(Fixture(FixtureVariant::kTiedAlias)));
  PG_ASSERT_OK_AND_ASSIGN(auto both, Checkpoint::Open(Fixture(FixtureVariant::kTiedBoth)));
  const std::string embed = Bytes(*absent->Find(kEmbed));
  EXPECT_EQ(Bytes(*alias->Find(kEmbed)), embed);
  EXPECT_EQ(Bytes(*both->Find(kEmbed)), embed);
  EXPECT_EQ(Bytes(*both->Find(kLmHead)), embed);
  EXPECT_EQ(Bytes(*untied->Find(kEmbed)), embed);
  EXPECT_NE(Bytes(*untied->Find(kLmHead)), embed);
  EXPECT_EQ(absent->Find(kLmHead), nullptr);
  for (const std::string& name : absent->TensorNames()) {
    EXPECT_EQ(Bytes(*absent->Find(name)), Bytes(*both->Find(name))) << name;
  }
}

TEST_F(CheckpointTest, SeedDeterminesValues) {
  PG_ASSERT_OK_AND_ASSIGN(auto a, Checkpoint::Open(Fixture(FixtureVariant::kLlama, 7)));
  PG_ASSERT_OK_AND_ASSIGN(auto b, Checkpoint::Open(Fixture(FixtureVariant::kLlama, 7)));
  PG_ASSERT_OK_AND_ASSIGN(auto c, Checkpoint::Open(Fixture(FixtureVariant::kLlama, 8)));
  EXPECT_EQ(Bytes(*a->Find(kEmbed)), Bytes(*b->Find(kEmbed)));
  EXPECT_NE(Bytes(*a->Find(kEmbed)), Bytes(*c->Find(kEmbed)));
  // Norm weights sit near 1, other weights near 0 with a non-trivial spread.
  PG_ASSERT_OK_AND_ASSIGN(std::vector<float> norm,
                          testing::DecodeFloats(*a->Find("model.norm.weight")));
  for (float v : norm) EXPECT_NEAR(v, 1.0f, 0.11f);
  PG_ASSERT_OK_AND_ASSIGN(std::vector<float> embed, testing::DecodeFloats(*a->Find(kEmbed)));
  double sum_sq = 0;
  for (float v : embed) sum_sq += v * v;
  EXPECT_NEAR(std::sqrt(sum_sq / embed.size()), 0.2 / std::sqrt(3.0), 0.01);
}

TEST_F(CheckpointTest, WriteRandomCheckpointValidatesArguments) {
  const testing::FixtureSpec spec = testing::GetFixtureSpec(FixtureVariant::kLlama);
  EXPECT_THAT(testing::WriteRandomCheckpoint(root_ + "/x", spec.config, 1, DType::kI32),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("storage dtype")));
  EXPECT_THAT(testing::WriteRandomCheckpoint(root_ + "/x", spec.config, 1, DType::kF32, 1000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_shards")));
  // Rewriting a directory with another layout removes the stale file of the old one.
  const std::string dir = root_ + "/relayout";
  ASSERT_THAT(testing::WriteRandomCheckpoint(dir, spec.config, 1, DType::kF32, 2), IsOk());
  ASSERT_THAT(testing::WriteRandomCheckpoint(dir, spec.config, 1, DType::kF32, 1), IsOk());
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors.index.json"));
  EXPECT_THAT(Checkpoint::Open(dir), IsOk());
}

TEST(CheckpointRealTest, Stories260KOpens) {
  PG_SHARED_DIR_OR_SKIP(shared);
  PG_ASSERT_OK_AND_ASSIGN(auto checkpoint, Checkpoint::Open(shared + "/models/stories260K"));
  const TensorView* embed = checkpoint->Find(kEmbed);
  ASSERT_NE(embed, nullptr);
  EXPECT_THAT(embed->shape, ElementsAre(512, 64));
  EXPECT_NE(checkpoint->Find(kLmHead), nullptr);
  EXPECT_EQ(checkpoint->TensorNames().size(), 48u);
  EXPECT_EQ(checkpoint->metadata().at("format"), "pt");
}

}  // namespace
}  // namespace prunegate
