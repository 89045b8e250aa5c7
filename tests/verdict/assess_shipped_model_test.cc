// Assess on the shipped model (models/tinykb) and its own task files: the model against itself is
// SAFE with zero KL for every task type under the default policy, and a candidate that keeps one
// block of six is UNSAFE for generation on the built-in prompts.
#include <filesystem>

#include "gtest/gtest.h"
#include "server/eval/runner.h"
#include "server/prune/drop.h"
#include "server/tasks/task_parser.h"
#include "server/verdict/assess.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::verdict {
namespace {

class ShippedModelAssessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = ::prunegate::testing::SourceDir() + "/models/tinykb";
    ASSERT_TRUE(std::filesystem::exists(dir + "/model.safetensors")) << dir;
    auto model = Model::Load(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    auto tokenizer = LoadTokenizer(dir);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    auto suite = tasks::LoadTaskDir(dir + "/tasks");
    ASSERT_TRUE(suite.ok()) << suite.status();
    model_ = new std::shared_ptr<const Model>(*model);
    tokenizer_ = new std::shared_ptr<const Tokenizer>(std::move(*tokenizer));
    suite_ = new tasks::TaskSuite(tasks::FirstItemsPerTask(*suite, 4));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokenizer_;
    delete suite_;
  }
  eval::Runner Runner(std::shared_ptr<const Model> model) { return {model, *tokenizer_, 16}; }
  // Two temperatures, 16 generated tokens, the default policy.
  AssessOptions Options(TaskType task) { return {task, {0.3, 1.0}, 16, 0, DefaultPolicy()}; }

  static std::shared_ptr<const Model>* model_;
  static std::shared_ptr<const Tokenizer>* tokenizer_;
  static tasks::TaskSuite* suite_;
};

std::shared_ptr<const Model>* ShippedModelAssessTest::model_ = nullptr;
std::shared_ptr<const Tokenizer>* ShippedModelAssessTest::tokenizer_ = nullptr;
tasks::TaskSuite* ShippedModelAssessTest::suite_ = nullptr;

TEST_F(ShippedModelAssessTest, TheModelAgainstItselfIsSafeForEveryTaskType) {
  ASSERT_FALSE(suite_->generation.empty());
  ASSERT_FALSE(suite_->multiple_choice.empty());
  ASSERT_FALSE(suite_->retrieval.empty());
  for (TaskType task : {TaskType::kGeneration, TaskType::kMultipleChoice, TaskType::kRetrieval}) {
    SCOPED_TRACE(TaskTypeName(task));
    PG_ASSERT_OK_AND_ASSIGN(
        Assessment a, Assess(Runner(*model_), Runner(*model_), *suite_, Options(task)));
    EXPECT_EQ(a.overall, Level::kSafe) << AssessmentText(a);
    ASSERT_EQ(a.verdicts.size(), 2u);
    for (const TemperatureVerdict& v : a.verdicts) {
      EXPECT_EQ(v.level, Level::kSafe) << v.reason;
      for (const Check& c : v.checks) EXPECT_LE(c.value, 1e-6) << c.rule;
    }
    for (const GenerationEvidence& e : a.generation) {
      EXPECT_EQ(e.mean_kl, 0.0);
      EXPECT_EQ(e.kl_pred, 0.0);
      EXPECT_EQ(e.diverged, 0);
    }
    for (const ChoiceEvidence& e : a.multiple_choice) EXPECT_EQ(e.mean_kl, 0.0);
    for (const RetrievalEvidence& e : a.retrieval) EXPECT_NEAR(e.mean_cosine, 1.0, 1e-6);
  }
}

TEST_F(ShippedModelAssessTest, KeepingOneBlockOfSixIsUnsafeForGeneration) {
  PG_ASSERT_OK_AND_ASSIGN(auto cand,
                          prune::DropLayers(**model_, prune::DropKind::kBlock, {0, 1, 2, 3, 4}));
  tasks::TaskSuite builtin;
  for (const std::string& prompt : BuiltinGenerationPrompts()) {
    tasks::GenerationItem item;
    item.prompt = prompt;
    builtin.generation.push_back(item);
  }
  AssessOptions o = Options(TaskType::kGeneration);
  o.policy.generation.max_prompts = 8;
  PG_ASSERT_OK_AND_ASSIGN(Assessment a, Assess(Runner(*model_), Runner(cand), builtin, o));
  EXPECT_EQ(a.overall, Level::kUnsafe);
  for (const TemperatureVerdict& v : a.verdicts) {
    EXPECT_EQ(v.level, Level::kUnsafe) << v.reason;
    EXPECT_EQ(v.rule, "generation.divergence_rate") << v.reason;
  }
  EXPECT_EQ(a.generation[0].prompts, 8);
  // The same logits judged at the lower temperature show the larger KL.
  EXPECT_GT(a.generation[0].mean_kl, a.generation[1].mean_kl);
}

}  // namespace
}  // namespace prunegate::verdict
