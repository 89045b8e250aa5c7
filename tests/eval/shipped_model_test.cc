// The model the repository ships (models/tinykb) loads and scores at least its documented
// numbers (models/tinykb/scores.json, "subset") minus 2 points on the fixed subset.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/eval/evaluator.h"
#include "server/tasks/task_parser.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::eval {
namespace {

TEST(ShippedModelTest, ScoresItsDocumentedNumbersOnTheFixedSubset) {
  const std::string dir = ::prunegate::testing::SourceDir() + "/models/tinykb";
  ASSERT_TRUE(std::filesystem::exists(dir + "/model.safetensors")) << dir;
  std::ifstream f(dir + "/scores.json");
  ASSERT_TRUE(f) << "models/tinykb/scores.json documents the subset scores";
  const nlohmann::json doc = nlohmann::json::parse(f);
  const nlohmann::json& want = doc.at("subset");
  PG_ASSERT_OK_AND_ASSIGN(auto model, Model::Load(dir));
  PG_ASSERT_OK_AND_ASSIGN(auto tok, LoadTokenizer(dir));
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite all, tasks::LoadTaskDir(dir + "/tasks"));
  const tasks::TaskSuite subset = tasks::FirstItemsPerTask(all, want.at("per_task").get<int64_t>());
  Runner runner{model, std::shared_ptr<const Tokenizer>(std::move(tok)), 16};
  PG_ASSERT_OK_AND_ASSIGN(EvalReport r, Evaluate(runner, subset, {}));
  EXPECT_GE(r.generation.rate(), want.at("knowledge_gen").get<double>() - 0.02);
  EXPECT_GE(r.generation_by_task["arithmetic"].rate(), want.at("arithmetic").get<double>() - 0.02);
  EXPECT_GE(r.choice.rate(), want.at("knowledge_mc").get<double>() - 0.02);
  EXPECT_GE(r.retrieval.rate(), want.at("retrieval").get<double>() - 0.02);
  std::printf("subset: knowledge_gen %.3f, arithmetic %.3f, knowledge_mc %.3f, retrieval %.3f\n",
              r.generation.rate(), r.generation_by_task["arithmetic"].rate(), r.choice.rate(),
              r.retrieval.rate());
}

}  // namespace
}  // namespace prunegate::eval
