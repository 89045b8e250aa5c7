// Assess on a small random model with the byte-level fixture tokenizer: identical pairs are SAFE
// with zero KL for every task type, a candidate missing most of its blocks is UNSAFE for
// generation, and the error paths (cancellation, empty items, bad arguments).
#include "server/verdict/assess.h"

#include "gtest/gtest.h"
#include "server/eval/runner.h"
#include "server/prune/drop.h"
#include "server/tasks/task_parser.h"
#include "tests/fixtures/fixture_tokenizers.h"
#include "tests/testing/paths.h"
#include "tests/testing/random_model.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::verdict {
namespace {

using ::prunegate::testing::StatusIs;
using ::testing::HasSubstr;

class AssessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = ::prunegate::testing::MakeTempDir("pg-verdict-tok");
    ASSERT_TRUE(::prunegate::testing::WriteByteLevelTokenizerFixture(dir).ok());
    tokenizer_ = std::shared_ptr<const Tokenizer>(LoadTokenizer(dir).value());
    ModelConfig c = ::prunegate::testing::SmallConfig();
    c.vocab_size = tokenizer_->vocab_size();
    c.num_hidden_layers = 4;
    base_ = ::prunegate::testing::MakeRandomModel(c, 11);
    cand_ = prune::DropLayers(*base_, prune::DropKind::kBlock, {0, 1, 2}).value();
    suite_ = tasks::ParseTaskJsonl(
                 R"({"type":"generation","id":"g1","prompt":"Once upon a time","reference":"x"}
{"type":"generation","id":"g2","prompt":"The red house","reference":"x"}
{"type":"generation","id":"g3","prompt":"A blue boat sails","reference":"x"}
{"type":"generation","id":"g4","prompt":"Green trees grow","reference":"x"}
{"type":"multiple_choice","id":"m1","prompt":"Which one?","options":["A","B","C","D"],"label":2}
{"type":"multiple_choice","id":"m2","prompt":"Another question here","options":["A","B"],"label":0}
{"type":"multiple_choice","id":"m3","prompt":"No label","options":["x","y","z"]}
{"type":"retrieval","id":"r","documents":[{"id":"d1","text":"the red house"},{"id":"d2","text":"a blue boat"},{"id":"d3","text":"green trees"}],"queries":[{"id":"q1","text":"red house","relevant":["d1"]},{"id":"q2","text":"boat","relevant":["d2"]}]}
{"type":"retrieval","id":"r2","documents":[{"id":"d1","text":"a cat sleeps"},{"id":"d2","text":"rain falls"}],"queries":[{"id":"q1","text":"the cat","relevant":["d1"]}]}
)",
                 "verdict.jsonl")
                 .value();
  }
  eval::Runner Base() { return {base_, tokenizer_, 4}; }
  eval::Runner Cand() { return {cand_, tokenizer_, 4}; }
  // Two temperatures, 12 generated tokens, the default policy.
  AssessOptions Options(TaskType task) { return {task, {0.3, 1.0}, 12, 0, DefaultPolicy()}; }

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<const Model> base_, cand_;
  tasks::TaskSuite suite_;
};

void ExpectSafeEverywhere(const Assessment& a, size_t temperatures) {
  EXPECT_EQ(a.overall, Level::kSafe);
  ASSERT_EQ(a.verdicts.size(), temperatures);
  for (const TemperatureVerdict& v : a.verdicts) {
    EXPECT_EQ(v.level, Level::kSafe) << v.reason;
    EXPECT_EQ(v.rule, "");
    for (const Check& c : v.checks) EXPECT_LE(c.value, 1e-6) << c.rule;
  }
}

TEST_F(AssessTest, IdenticalModelsAreSafeForEveryTaskType) {
  int64_t last_done = 0, last_total = 0;
  auto progress = [&](const AssessProgress& p) {
    EXPECT_EQ(p.done, last_done + 1);
    last_done = p.done;
    last_total = p.total;
  };
  PG_ASSERT_OK_AND_ASSIGN(Assessment g, Assess(Base(), Base(), suite_,
                                               Options(TaskType::kGeneration), progress));
  EXPECT_EQ(last_done, 8);  // 4 prompts x 2 temperatures
  EXPECT_EQ(last_total, 8);
  ExpectSafeEverywhere(g, 2);
  ASSERT_EQ(g.generation.size(), 2u);
  for (const GenerationEvidence& e : g.generation) {
    EXPECT_EQ(e.prompts, 4);
    EXPECT_EQ(e.max_steps, 12);
    EXPECT_EQ(e.diverged, 0);
    EXPECT_EQ(e.mean_kl, 0.0);
    EXPECT_EQ(e.kl_pred, 0.0);
    EXPECT_GT(e.shared_steps, 0);
    EXPECT_EQ(e.token_agreement, 1.0);
  }
  EXPECT_EQ(g.generation[0].temperature, 0.3);

  last_done = 0;
  PG_ASSERT_OK_AND_ASSIGN(Assessment m, Assess(Base(), Base(), suite_,
                                               Options(TaskType::kMultipleChoice), progress));
  EXPECT_EQ(last_done, 3);
  ExpectSafeEverywhere(m, 2);
  for (const ChoiceEvidence& e : m.multiple_choice) {
    EXPECT_EQ(e.items, 3);
    EXPECT_EQ(e.labelled, 2);
    EXPECT_EQ(e.mean_kl, 0.0);
    EXPECT_EQ(e.argmax_agreement, 1.0);
  }

  last_done = 0;
  PG_ASSERT_OK_AND_ASSIGN(Assessment r, Assess(Base(), Base(), suite_,
                                               Options(TaskType::kRetrieval), progress));
  EXPECT_EQ(last_done, 2);
  ExpectSafeEverywhere(r, 2);
  ASSERT_EQ(r.retrieval.size(), 2u);
  EXPECT_EQ(r.retrieval[0].sets, 2);
  EXPECT_EQ(r.retrieval[0].texts, 8);
  EXPECT_EQ(r.retrieval[0].queries, 3);
  EXPECT_EQ(r.retrieval[1].temperature, 1.0);
  EXPECT_EQ(r.verdicts[0].checks[1].value, r.verdicts[1].checks[1].value);
}

TEST_F(AssessTest, DroppingMostBlocksIsUnsafeForGeneration) {
  PG_ASSERT_OK_AND_ASSIGN(Assessment a,
                          Assess(Base(), Cand(), suite_, Options(TaskType::kGeneration)));
  EXPECT_EQ(a.overall, Level::kUnsafe);
  for (size_t t = 0; t < a.verdicts.size(); ++t) {
    EXPECT_EQ(a.verdicts[t].level, Level::kUnsafe) << a.verdicts[t].reason;
    EXPECT_GT(a.generation[t].mean_kl, 0.1);
    EXPECT_GT(a.generation[t].diverged, 0);
  }
  // The retrieval and multiple-choice evidence of the same pair is computed and nonzero.
  PG_ASSERT_OK_AND_ASSIGN(Assessment m,
                          Assess(Base(), Cand(), suite_, Options(TaskType::kMultipleChoice)));
  EXPECT_GT(m.multiple_choice[0].mean_kl, 0);
  PG_ASSERT_OK_AND_ASSIGN(Assessment r,
                          Assess(Base(), Cand(), suite_, Options(TaskType::kRetrieval)));
  EXPECT_LT(r.retrieval[0].mean_cosine, 1);
}

TEST_F(AssessTest, SeedAndLengthComeFromThePolicyUnlessGiven) {
  AssessOptions o = Options(TaskType::kGeneration);
  o.max_steps = 0;
  o.temperatures = {1.0};
  o.policy.generation.max_steps = 5;
  o.policy.generation.max_prompts = 2;
  PG_ASSERT_OK_AND_ASSIGN(Assessment a, Assess(Base(), Cand(), suite_, o));
  EXPECT_EQ(a.generation[0].max_steps, 5);
  EXPECT_EQ(a.generation[0].prompts, 2);
  EXPECT_LE(a.generation[0].steps, 10);
  o.seed = o.policy.generation.seed;  // the same seed given explicitly: the same traces
  PG_ASSERT_OK_AND_ASSIGN(Assessment same, Assess(Base(), Cand(), suite_, o));
  EXPECT_EQ(same.generation[0].mean_kl, a.generation[0].mean_kl);
  EXPECT_EQ(same.generation[0].steps, a.generation[0].steps);
}

TEST_F(AssessTest, CancellationStopsTheRun) {
  for (TaskType task : {TaskType::kGeneration, TaskType::kMultipleChoice, TaskType::kRetrieval}) {
    SCOPED_TRACE(TaskTypeName(task));
    int64_t reported = 0;
    auto count = [&](const AssessProgress&) { ++reported; };
    // Cancelled after the first prompt, item or set.
    EXPECT_THAT(Assess(Base(), Cand(), suite_, Options(task), count, [&] { return reported > 0; }),
                StatusIs(absl::StatusCode::kCancelled));
    EXPECT_EQ(reported, 1);
    // Cancelled from the start: nothing runs.
    reported = 0;
    EXPECT_THAT(Assess(Base(), Cand(), suite_, Options(task), count, [] { return true; }),
                StatusIs(absl::StatusCode::kCancelled));
    EXPECT_EQ(reported, 0);
  }
  // Generation polls inside a trace too: cancelled at the third decode step of the first prompt.
  int polls = 0;
  EXPECT_THAT(Assess(Base(), Cand(), suite_, Options(TaskType::kGeneration), {},
                     [&] { return ++polls > 3; }),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(polls, 4);
}

TEST_F(AssessTest, InvalidArguments) {
  const tasks::TaskSuite empty;
  for (TaskType task : {TaskType::kGeneration, TaskType::kMultipleChoice, TaskType::kRetrieval}) {
    EXPECT_THAT(Assess(Base(), Cand(), empty, Options(task)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << TaskTypeName(task);
  }
  AssessOptions o = Options(TaskType::kMultipleChoice);
  o.temperatures = {};
  EXPECT_THAT(Assess(Base(), Cand(), suite_, o), StatusIs(absl::StatusCode::kInvalidArgument));
  o.temperatures = {0.0};
  EXPECT_THAT(Assess(Base(), Cand(), suite_, o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = Options(TaskType::kGeneration);
  o.max_steps = -1;
  EXPECT_THAT(Assess(Base(), Cand(), suite_, o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = Options(TaskType::kGeneration);
  o.policy.generation.mean_kl = {1, 0.5};
  EXPECT_THAT(Assess(Base(), Cand(), suite_, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("generation.mean_kl")));

  ModelConfig c = base_->config();
  c.vocab_size += 1;
  eval::Runner other{::prunegate::testing::MakeRandomModel(c, 2), tokenizer_, 4};
  EXPECT_THAT(Assess(Base(), other, suite_, Options(TaskType::kRetrieval)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("differ in vocab_size")));
}

TEST(BuiltinPromptsTest, SixteenDistinctNonEmptyPrompts) {
  const std::vector<std::string> prompts = BuiltinGenerationPrompts();
  EXPECT_EQ(prompts.size(), 16u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_FALSE(prompts[i].empty());
    for (size_t j = 0; j < i; ++j) EXPECT_NE(prompts[i], prompts[j]);
  }
}

}  // namespace
}  // namespace prunegate::verdict
