// The engine against an independent implementation: stories260K logits and greedy tokens from
// ../shared/goldens (llama2.c run.c, cross-checked with a float64 NumPy HF implementation).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/model/generate.h"
#include "server/model/model.h"
#include "server/model/session.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate {
namespace {

using ::prunegate::testing::MakeTempDir;

struct GoldenCase {
  std::string name;
  std::vector<int64_t> prompt_ids, generated_ids, all_ids;
  at::Tensor logits;  // (n_positions, 512)
};

GoldenCase ReadCase(const std::string& dir, const std::string& name) {
  GoldenCase c;
  c.name = name;
  std::ifstream f(dir + "/" + name + ".json");
  nlohmann::json j = nlohmann::json::parse(f);
  c.prompt_ids = j["prompt_ids"].get<std::vector<int64_t>>();
  c.generated_ids = j["generated_ids"].get<std::vector<int64_t>>();
  c.all_ids = j["all_ids"].get<std::vector<int64_t>>();
  std::ifstream lf(dir + "/" + name + ".logits.f32", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(lf)), std::istreambuf_iterator<char>());
  const int64_t n = static_cast<int64_t>(bytes.size() / sizeof(float));
  c.logits = torch::from_blob(bytes.data(), {n / 512, 512}, torch::kFloat).clone();
  return c;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, TeacherForcedLogitsMatchWithin1e4) {
  PG_SHARED_DIR_OR_SKIP(shared);
  GoldenCase c = ReadCase(shared + "/goldens/stories260K", GetParam());
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::Load(shared + "/models/stories260K"));
  PG_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor logits, session->Feed({c.all_ids}, LogitsMode::kAll));
  ASSERT_EQ(logits.size(1), c.logits.size(0));
  const double max_diff = (logits[0] - c.logits).abs().max().item<double>();
  EXPECT_LE(max_diff, 1e-4) << c.name;
}

TEST_P(GoldenTest, GreedyDecodeWithKvCacheMatchesTokensAndLogits) {
  PG_SHARED_DIR_OR_SKIP(shared);
  GoldenCase c = ReadCase(shared + "/goldens/stories260K", GetParam());
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::Load(shared + "/models/stories260K"));
  GenerateOptions options;
  options.max_new_tokens = static_cast<int64_t>(c.generated_ids.size());
  options.keep_logits = true;
  PG_ASSERT_OK_AND_ASSIGN(GenerateResult r, Generate(model, c.prompt_ids, options));
  EXPECT_EQ(r.generated_ids, c.generated_ids);
  ASSERT_EQ(r.logits.size(0), c.logits.size(0));
  EXPECT_LE((r.logits - c.logits).abs().max().item<double>(), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Stories260K, GoldenTest,
                         ::testing::Values("p0_bos", "p1_once", "p2_park", "p3_quote"));

TEST(GoldenTest, Bfloat16StaysCloseAndMostlyAgrees) {
  PG_SHARED_DIR_OR_SKIP(shared);
  GoldenCase c = ReadCase(shared + "/goldens/stories260K", "p2_park");
  PG_ASSERT_OK_AND_ASSIGN(auto model,
                          Model::Load(shared + "/models/stories260K", {"cpu", "bfloat16"}));
  EXPECT_EQ(model->dtype(), c10::kBFloat16);
  PG_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor logits, session->Feed({c.all_ids}, LogitsMode::kAll));
  at::Tensor ref = c.logits;
  const double rel = ((logits[0] - ref).norm() / ref.norm()).item<double>();
  EXPECT_LT(rel, 0.05);
  const double agree =
      (logits[0].argmax(-1) == ref.argmax(-1)).to(torch::kFloat).mean().item<double>();
  EXPECT_GT(agree, 0.9);
}

TEST(GoldenTest, CudaMatchesGoldensWhenAGpuIsPresent) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: GPU check skipped";
  PG_SHARED_DIR_OR_SKIP(shared);
  GoldenCase c = ReadCase(shared + "/goldens/stories260K", "p3_quote");
  PG_ASSERT_OK_AND_ASSIGN(auto model,
                          Model::Load(shared + "/models/stories260K", {"cuda:0", "float32"}));
  PG_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  PG_ASSERT_OK_AND_ASSIGN(at::Tensor logits, session->Feed({c.all_ids}, LogitsMode::kAll));
  EXPECT_LE((logits[0].cpu() - c.logits).abs().max().item<double>(), 1e-4);
  GenerateOptions options;
  options.max_new_tokens = static_cast<int64_t>(c.generated_ids.size());
  PG_ASSERT_OK_AND_ASSIGN(GenerateResult r, Generate(model, c.prompt_ids, options));
  EXPECT_EQ(r.generated_ids, c.generated_ids);
}

// The CLI a user runs first: --ids, --json and --logits-out against the same goldens.
TEST(GenerateCliTest, JsonAndLogitsOutMatchGoldens) {
  PG_SHARED_DIR_OR_SKIP(shared);
  GoldenCase c = ReadCase(shared + "/goldens/stories260K", "p1_once");
  const std::string tmp = MakeTempDir("pg-generate-cli");
  std::ostringstream ids;
  for (size_t i = 0; i < c.prompt_ids.size(); ++i) ids << (i ? "," : "") << c.prompt_ids[i];
  const std::string cmd = std::string(PRUNEGATE_GENERATE_BIN) + " --model " + shared +
                          "/models/stories260K --ids " + ids.str() +
                          " --max-new-tokens 64 --ignore-eos --json --logits-out " + tmp +
                          "/logits.f32 > " + tmp + "/out.json";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream f(tmp + "/out.json");
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["prompt_ids"].get<std::vector<int64_t>>(), c.prompt_ids);
  EXPECT_EQ(j["generated_ids"].get<std::vector<int64_t>>(), c.generated_ids);
  EXPECT_TRUE(j["text"].is_string());
  std::ifstream lf(tmp + "/logits.f32", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(lf)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), static_cast<size_t>(c.logits.numel()) * sizeof(float));
  at::Tensor got = torch::from_blob(bytes.data(), c.logits.sizes(), torch::kFloat);
  EXPECT_LE((got - c.logits).abs().max().item<double>(), 1e-4);
}

TEST(GenerateCliTest, BadInputExitsNonZeroWithMessage) {
  const std::string bin = PRUNEGATE_GENERATE_BIN;
  EXPECT_NE(std::system((bin + " --ids 1,2 2>/dev/null").c_str()), 0);  // no --model
  EXPECT_NE(std::system((bin + " --model /nonexistent --ids 1 2>/dev/null").c_str()), 0);
  auto shared = ::prunegate::testing::SharedDir();
  if (!shared) return;
  const std::string model = " --model " + *shared + "/models/stories260K";
  EXPECT_NE(std::system((bin + model + " --ids 1,x 2>/dev/null").c_str()), 0);
  EXPECT_NE(std::system((bin + model + " --ids 1,9999 2>/dev/null").c_str()), 0);  // > vocab
  EXPECT_NE(std::system((bin + model + " --ids 1 --temperature -1 2>/dev/null").c_str()), 0);
}

}  // namespace
}  // namespace prunegate
