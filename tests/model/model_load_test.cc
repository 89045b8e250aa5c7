// Model::Load on every fixture checkpoint variant the fixture maker writes, and on checkpoints
// that disagree with their config.json.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "server/model/checkpoint.h"
#include "server/model/model.h"
#include "server/model/session.h"
#include "tests/fixtures/fixture_checkpoints.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate {
namespace {

using ::prunegate::testing::FixtureVariant;
using ::prunegate::testing::MakeTempDir;
using ::prunegate::testing::StatusIs;
using ::testing::HasSubstr;

std::string Write(FixtureVariant v, uint64_t seed = 1) {
  const std::string dir = MakeTempDir("pg-fixture-" + ::prunegate::testing::FixtureVariantName(v));
  auto s = ::prunegate::testing::WriteFixtureCheckpoint(dir, v, seed);
  EXPECT_TRUE(s.ok()) << s;
  return dir;
}

std::vector<int64_t> Ids(int64_t n, int64_t vocab) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back((i * 11 + 5) % vocab);
  return ids;
}

at::Tensor Logits(const std::string& dir, const LoadOptions& options = {}) {
  auto model = Model::Load(dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return at::Tensor();
  auto session = Session::Create(*model).value();
  auto logits = session->Feed({Ids(12, (*model)->config().vocab_size)}, LogitsMode::kAll);
  EXPECT_TRUE(logits.ok()) << logits.status();
  return (*logits)[0];
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().max().item<double>();
}

class EveryVariantTest : public ::testing::TestWithParam<FixtureVariant> {};

TEST_P(EveryVariantTest, LoadsAndDecodesIncrementallyLikeFullRecompute) {
  const std::string dir = Write(GetParam());
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::Load(dir));
  const auto ids = Ids(14, model->config().vocab_size);
  PG_ASSERT_OK_AND_ASSIGN(auto full_session, Session::Create(model));
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor full, full_session->Feed({ids}, LogitsMode::kAll));
  PG_ASSERT_OK_AND_ASSIGN(auto s, Session::Create(model));
  std::vector<int64_t> prompt(ids.begin(), ids.begin() + 4);
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor first, s->Feed({prompt}, LogitsMode::kLast));
  EXPECT_LT(MaxDiff(first[0], full[0][3]), 1e-5);
  for (size_t i = 4; i < ids.size(); ++i) {
    PG_ASSERT_OK_AND_ASSIGN(at::Tensor step, s->Step({ids[i]}));
    EXPECT_LT(MaxDiff(step[0], full[0][i]), 1e-5) << "position " << i;
  }
  EXPECT_GT(full.std().item<double>(), 1e-3) << "fixture logits should not be degenerate";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EveryVariantTest,
                         ::testing::ValuesIn(::prunegate::testing::AllFixtureVariants()),
                         [](const auto& info) {
                           return ::prunegate::testing::FixtureVariantName(info.param);
                         });

TEST(ModelLoadTest, ShardedEqualsUnsharded) {
  at::Tensor one = Logits(Write(FixtureVariant::kLlama));
  at::Tensor sharded = Logits(Write(FixtureVariant::kLlamaSharded));
  EXPECT_EQ(MaxDiff(one, sharded), 0.0);
}

TEST(ModelLoadTest, EveryTiedLayoutGivesTheSameLogits) {
  const std::string absent = Write(FixtureVariant::kTiedAbsent);
  at::Tensor a = Logits(absent);
  EXPECT_EQ(MaxDiff(a, Logits(Write(FixtureVariant::kTiedAlias))), 0.0);
  EXPECT_EQ(MaxDiff(a, Logits(Write(FixtureVariant::kTiedBoth))), 0.0);
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::Load(absent));
  EXPECT_TRUE(model->tied());
}

TEST(ModelLoadTest, ReducedPrecisionStaysCloseToFloat32) {
  const std::string f32 = Write(FixtureVariant::kLlama);
  at::Tensor ref = Logits(f32);
  const double scale = ref.abs().max().item<double>();
  // bf16 storage read as float32, and f32 storage computed in bfloat16.
  EXPECT_LT(MaxDiff(ref, Logits(Write(FixtureVariant::kLlamaBf16))), 0.03 * scale);
  EXPECT_LT(MaxDiff(ref, Logits(Write(FixtureVariant::kLlamaF16))), 0.01 * scale);
  EXPECT_LT(MaxDiff(ref, Logits(f32, {"cpu", "bfloat16"})), 0.05 * scale);
  PG_ASSERT_OK_AND_ASSIGN(auto bf16, Model::Load(f32, {"cpu", "bfloat16"}));
  EXPECT_EQ(bf16->dtype(), c10::kBFloat16);
}

TEST(ModelLoadTest, Float16OnCpuRunsOrSaysWhyNot) {
  const std::string dir = Write(FixtureVariant::kLlama);
  auto model = Model::Load(dir, {"cpu", "float16"});
  if (model.ok()) {  // libtorch 2.x: float16 GEMM exists on CPU
    at::Tensor ref = Logits(dir);
    EXPECT_LT(MaxDiff(ref, Logits(dir, {"cpu", "float16"})), 0.01 * ref.abs().max().item<double>());
  } else {  // libtorch 1.13: refused at load time, not with a crash mid-forward
    EXPECT_THAT(model, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr("float16 matrix products are not available on cpu")));
  }
}

TEST(ModelLoadTest, CudaWithoutCudaIsAPreconditionError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA present: covered by the GPU tests";
  const std::string dir = Write(FixtureVariant::kLlama);
  EXPECT_THAT(Model::Load(dir, {"cuda:0", "float32"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no CUDA")));
  EXPECT_THAT(Model::Load(dir, {"cuda:x", "float32"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cuda:N")));
}

TEST(ModelLoadTest, FloatStorageIsZeroCopy) {
  const std::string dir = Write(FixtureVariant::kLlama);
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::Load(dir));
  // Tensors wrap the read-only mapping (from_blob storage: not resizable) instead of a copy.
  EXPECT_FALSE(model->weights().layers[0].q_proj.storage().resizable());
}

TEST(ModelLoadTest, BadOptionsAndConfigMismatchesNameTheProblem) {
  const std::string dir = Write(FixtureVariant::kLlama);
  EXPECT_THAT(Model::Load(dir, {"tpu", "float32"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tpu")));
  EXPECT_THAT(Model::Load(dir, {"cpu", "int8"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int8")));
  EXPECT_THAT(Model::Load(dir + "/nonexistent"), StatusIs(absl::StatusCode::kNotFound));

  // config.json saying more layers than the file holds.
  auto spec = ::prunegate::testing::GetFixtureSpec(FixtureVariant::kLlama);
  ModelConfig bigger = spec.config;
  bigger.num_hidden_layers += 1;
  std::ofstream(dir + "/config.json") << ModelConfigToJson(bigger);
  EXPECT_THAT(Model::Load(dir), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("missing tensor model.layers.2.")));

  // config.json with a different intermediate size than the stored MLP.
  ModelConfig wider = spec.config;
  wider.intermediate_size += 2;
  std::ofstream(dir + "/config.json") << ModelConfigToJson(wider);
  EXPECT_THAT(Model::Load(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model.layers.0.mlp.gate_proj.weight has shape")));

  // Untied config on a checkpoint that stores no lm_head.
  const std::string tied = Write(FixtureVariant::kTiedAbsent);
  ModelConfig untied = ::prunegate::testing::GetFixtureSpec(FixtureVariant::kTiedAbsent).config;
  untied.tie_word_embeddings = false;
  std::ofstream(tied + "/config.json") << ModelConfigToJson(untied);
  EXPECT_THAT(Model::Load(tied), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("missing tensor lm_head.weight")));
}

TEST(ModelLoadTest, TiedConfigWithDifferentHeadIsRejected) {
  const std::string dir = MakeTempDir("pg-tied-mismatch");
  auto spec = ::prunegate::testing::GetFixtureSpec(FixtureVariant::kTiedBoth);
  auto tensors = ::prunegate::testing::RandomWeights(spec.config, 3);
  // Store an lm_head that is not the embedding while config.json says tied.
  std::vector<::prunegate::testing::FixtureTensor> with_head = tensors;
  for (const auto& t : tensors) {
    if (t.name == "model.embed_tokens.weight") {
      auto head = t;
      head.name = "lm_head.weight";
      for (float& x : head.values) x += 0.5f;
      with_head.push_back(head);
    }
  }
  ASSERT_TRUE(::prunegate::testing::WriteCheckpointTensors(dir, spec.config, with_head).ok());
  EXPECT_THAT(Model::Load(dir),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lm_head.weight differs")));
}

TEST(ModelLoadTest, IntegerWeightIsRejectedWithItsName) {
  const std::string dir = MakeTempDir("pg-int-weight");
  auto spec = ::prunegate::testing::GetFixtureSpec(FixtureVariant::kLlama);
  auto tensors = ::prunegate::testing::RandomWeights(spec.config, 3);
  std::vector<TensorToWrite> out;
  for (const auto& t : tensors) {
    TensorToWrite w{t.name, DType::kF32, t.shape,
                    ::prunegate::testing::EncodeFloats(t.values, DType::kF32)};
    if (t.name == "model.norm.weight") w.dtype = DType::kI32;
    out.push_back(std::move(w));
  }
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", out).ok());
  std::ofstream(dir + "/config.json") << ModelConfigToJson(spec.config);
  EXPECT_THAT(Model::Load(dir), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("model.norm.weight has dtype I32")));
}

TEST(ModelLoadTest, RealStories260KReportsItsSize) {
  PG_SHARED_DIR_OR_SKIP(shared);
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::Load(shared + "/models/stories260K"));
  EXPECT_TRUE(model->tied());
  EXPECT_EQ(model->num_layers(), 5);
  // 512*64 embedding (tied) + 5 layers + final norm.
  const int64_t per_layer = 64 + 64 * 64 + 2 * 32 * 64 + 64 * 64 + 64 + 3 * 172 * 64;
  EXPECT_EQ(model->parameter_count(), 512 * 64 + 5 * per_layer + 64);
}

}  // namespace
}  // namespace prunegate
