// Choice and embedding probes on a random model with the byte-level fixture tokenizer.
#include "gtest/gtest.h"
#include "server/eval/evaluator.h"
#include "server/probe/choice_probe.h"
#include "server/probe/embedding_probe.h"
#include "server/prune/drop.h"
#include "server/tasks/task_parser.h"
#include "tests/fixtures/fixture_tokenizers.h"
#include "tests/testing/paths.h"
#include "tests/testing/random_model.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::probe {
namespace {

using ::prunegate::testing::StatusIs;

class TaskProbesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = ::prunegate::testing::MakeTempDir("pg-probe-tok");
    ASSERT_TRUE(::prunegate::testing::WriteByteLevelTokenizerFixture(dir).ok());
    tokenizer_ = std::shared_ptr<const Tokenizer>(LoadTokenizer(dir).value());
    ModelConfig c = ::prunegate::testing::SmallConfig();
    c.vocab_size = tokenizer_->vocab_size();
    base_ = ::prunegate::testing::MakeRandomModel(c, 5);
    cand_ = prune::DropLayers(*base_, prune::DropKind::kBlock, {0, 1}).value();
    suite_ =
        tasks::ParseTaskJsonl(
            R"({"type":"multiple_choice","id":"m1","prompt":"Which one?","options":["A","B","C","D"],"label":2}
{"type":"multiple_choice","id":"m2","prompt":"Another question here","options":["A","B"],"label":0}
{"type":"multiple_choice","id":"m3","prompt":"No label","options":["x","y","z"]}
{"type":"retrieval","id":"r","documents":[{"id":"d1","text":"the red house"},{"id":"d2","text":"a blue boat"},{"id":"d3","text":"green trees"}],"queries":[{"id":"q1","text":"red house","relevant":["d1"]},{"id":"q2","text":"boat","relevant":["d2"]}]}
)",
            "probe.jsonl")
            .value();
  }
  eval::Runner A() { return {base_, tokenizer_, 2}; }
  eval::Runner B() { return {cand_, tokenizer_, 2}; }

  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<const Model> base_, cand_;
  tasks::TaskSuite suite_;
};

TEST_F(TaskProbesTest, ChoiceProbeOfIdenticalModels) {
  PG_ASSERT_OK_AND_ASSIGN(ChoiceSummary s,
                          ProbeChoices(A(), A(), suite_.multiple_choice, {0.5, 1.0}));
  EXPECT_EQ(s.items, 3);
  EXPECT_EQ(s.labelled, 2);
  EXPECT_EQ(s.argmax_agreement, 1.0);
  EXPECT_EQ(s.accuracy_a, s.accuracy_b);
  EXPECT_EQ(s.mean_kl[0], 0.0);
  EXPECT_EQ(s.mean_kl[1], 0.0);
}

TEST_F(TaskProbesTest, ChoiceProbeAgreesWithTheEvaluator) {
  PG_ASSERT_OK_AND_ASSIGN(ChoiceSummary s, ProbeChoices(A(), B(), suite_.multiple_choice, {1.0}));
  tasks::TaskSuite mc;
  mc.multiple_choice = suite_.multiple_choice;
  PG_ASSERT_OK_AND_ASSIGN(auto ra, eval::Evaluate(A(), mc, {}));
  PG_ASSERT_OK_AND_ASSIGN(auto rb, eval::Evaluate(B(), mc, {}));
  EXPECT_DOUBLE_EQ(s.accuracy_a, ra.choice.rate());
  EXPECT_DOUBLE_EQ(s.accuracy_b, rb.choice.rate());
  EXPECT_GT(s.mean_kl[0], 0.0);
  for (const auto& r : s.results) {
    double sum_p = 0;
    for (double p : r.subspace[0].p) sum_p += p;
    EXPECT_NEAR(sum_p, 1.0, 1e-9);
  }
  tasks::MultipleChoiceItem bad = suite_.multiple_choice[0];
  bad.options = {"A", "a long option"};
  EXPECT_THAT(ProbeChoices(A(), B(), {bad}, {1.0}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ProbeChoices(A(), B(), {}, {1.0}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TaskProbesTest, EmbeddingProbe) {
  const std::vector<std::string> texts = {"hello world", "the red house"};
  PG_ASSERT_OK_AND_ASSIGN(EmbeddingSummary same, ProbeEmbeddings(A(), A(), texts, suite_.retrieval,
                                                                 eval::Pooling::kMean, 2));
  EXPECT_NEAR(same.mean_cosine, 1.0, 1e-6);
  EXPECT_EQ(same.queries, 2);
  EXPECT_EQ(same.mean_topk_overlap, 1.0);
  EXPECT_EQ(same.mean_kendall_tau, 1.0);
  EXPECT_EQ(same.recall_at_1_a, same.recall_at_1_b);
  PG_ASSERT_OK_AND_ASSIGN(EmbeddingSummary diff, ProbeEmbeddings(A(), B(), texts, suite_.retrieval,
                                                                 eval::Pooling::kLastToken, 2));
  EXPECT_LT(diff.mean_cosine, 1.0);
  EXPECT_GE(diff.mean_kendall_tau, -1.0);
  EXPECT_LE(diff.mean_kendall_tau, 1.0);
  EXPECT_THAT(ProbeEmbeddings(A(), B(), {}, {}, eval::Pooling::kMean),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KendallTauTest, HandComputed) {
  EXPECT_DOUBLE_EQ(KendallTau({1, 2, 3}, {10, 20, 30}), 1.0);
  EXPECT_DOUBLE_EQ(KendallTau({1, 2, 3}, {3, 2, 1}), -1.0);
  EXPECT_DOUBLE_EQ(KendallTau({1, 2, 3}, {1, 3, 2}), 1.0 / 3);
}

}  // namespace
}  // namespace prunegate::probe
