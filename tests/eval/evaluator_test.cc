// Scoring rules on hand-made items with a hand-built "successor" model whose greedy output is
// known exactly: no layers (every sublayer dropped), random embeddings, and an LM head that maps
// the embedding of token t to a chosen next token succ(t).
#include "server/eval/evaluator.h"

#include <map>
#include <set>

#include "gtest/gtest.h"
#include "server/tasks/task_parser.h"
#include "tests/fixtures/fixture_tokenizers.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate::eval {
namespace {

using ::prunegate::testing::StatusIs;
using ::testing::HasSubstr;

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = ::prunegate::testing::MakeTempDir("pg-eval");
    ASSERT_TRUE(::prunegate::testing::WriteByteLevelTokenizerFixture(dir).ok());
    auto tok = LoadTokenizer(dir);
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = std::shared_ptr<const Tokenizer>(std::move(*tok));
  }

  std::vector<int64_t> Ids(const std::string& text) {
    auto ids = tokenizer_->Encode(text, false);
    EXPECT_TRUE(ids.ok());
    return *ids;
  }

  // A model whose greedy next token after t is succ[t] (unmapped tokens: no preference).
  std::shared_ptr<const Model> SuccessorModel(const std::map<int64_t, int64_t>& succ,
                                              uint64_t seed = 3) {
    ModelConfig c;
    c.vocab_size = tokenizer_->vocab_size();
    c.hidden_size = 64;
    c.intermediate_size = 64;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 4;
    c.head_dim = 16;
    c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-6;
    if (tokenizer_->eos_id()) c.eos_token_ids = {*tokenizer_->eos_id()};
    torch::manual_seed(seed);
    ModelWeights w;
    w.embed_tokens = torch::randn({c.vocab_size, c.hidden_size});
    w.layers.resize(1);  // every sublayer dropped: logits = head(norm(embed(last token)))
    w.final_norm = torch::ones({c.hidden_size});
    w.lm_head = torch::zeros({c.vocab_size, c.hidden_size});
    for (const auto& [from, to] : succ) {
      w.lm_head[to] += 10.0 * w.embed_tokens[from] / w.embed_tokens[from].norm();
    }
    auto m = Model::FromWeights(c, w);
    EXPECT_TRUE(m.ok()) << m.status();
    return *m;
  }

  // Chains prompt's last token -> continuation tokens in order.
  std::map<int64_t, int64_t> Chain(const std::string& prompt, const std::string& continuation) {
    std::vector<int64_t> chain = {Ids(prompt).back()};
    for (int64_t id : Ids(continuation)) chain.push_back(id);
    std::map<int64_t, int64_t> succ;
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      EXPECT_EQ(succ.count(chain[i]), 0u) << "chain tokens must be distinct";
      succ[chain[i]] = chain[i + 1];
    }
    return succ;
  }

  tasks::TaskSuite Suite(const std::string& jsonl) {
    auto s = tasks::ParseTaskJsonl(jsonl, "test.jsonl");
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  std::shared_ptr<const Tokenizer> tokenizer_;
};

TEST_F(EvaluatorTest, GenerationExactMatchStopsAtNewlineAndTrims) {
  auto model = SuccessorModel(Chain("Q: where?", " home\nX"));
  Runner runner{model, tokenizer_, 4};
  auto suite = Suite(
      R"({"type":"generation","id":"right","task":"knowledge_gen","prompt":"Q: where?","reference":"home"}
{"type":"generation","id":"wrong","task":"knowledge_gen","prompt":"Q: where?","reference":"away"}
{"type":"generation","id":"arith","task":"arithmetic","prompt":"Q: where?","reference":" home "}
)");
  PG_ASSERT_OK_AND_ASSIGN(EvalReport r, Evaluate(runner, suite, {}));
  EXPECT_EQ(r.generation_by_task["knowledge_gen"].correct, 1);
  EXPECT_EQ(r.generation_by_task["knowledge_gen"].n, 2);
  EXPECT_EQ(r.generation_by_task["arithmetic"].correct, 1);
  // The headline is the knowledge_gen task alone.
  EXPECT_EQ(r.generation.n, 2);
  EXPECT_DOUBLE_EQ(r.generation.rate(), 0.5);
  ASSERT_FALSE(r.samples.empty());
  EXPECT_EQ(r.samples[0].output, " home");
}

TEST_F(EvaluatorTest, SampledGenerationIsSeededPerItemAndNearGreedyAtLowTemperature) {
  auto model = SuccessorModel(Chain("Q: where?", " home\nX"));
  Runner runner{model, tokenizer_, 2};
  const std::vector<std::vector<int64_t>> prompts(5, Ids("Q: where?"));
  SamplingOptions cold;
  cold.temperature = 0.01;
  PG_ASSERT_OK_AND_ASSIGN(auto c, Continuations(runner, prompts, 6, true, cold));
  for (const auto& x : c) EXPECT_EQ(x.text, " home");

  SamplingOptions hot;
  hot.temperature = 50.0;
  hot.seed = 11;
  PG_ASSERT_OK_AND_ASSIGN(auto h1, Continuations(runner, prompts, 6, false, hot));
  PG_ASSERT_OK_AND_ASSIGN(auto h2, Continuations(runner, prompts, 6, false, hot));
  std::set<std::vector<int64_t>> distinct;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(h1[i].ids, h2[i].ids);  // same seed, same draws
    distinct.insert(h1[i].ids);
  }
  EXPECT_GT(distinct.size(), 1u);  // prompt i draws from seed + i: not one shared stream
  // The same draws whatever the batch size (seeds follow the prompt, not the chunk).
  Runner single{model, tokenizer_, 1};
  PG_ASSERT_OK_AND_ASSIGN(auto h3, Continuations(single, prompts, 6, false, hot));
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(h1[i].ids, h3[i].ids);

  EvalOptions o;
  o.sampling = cold;
  auto suite = Suite(
      R"({"type":"generation","id":"right","task":"knowledge_gen","prompt":"Q: where?","reference":"home"})");
  PG_ASSERT_OK_AND_ASSIGN(EvalReport r, Evaluate(runner, suite, o));
  EXPECT_EQ(r.generation.correct, 1);
  EXPECT_DOUBLE_EQ(r.temperature, 0.01);
  SamplingOptions bad;
  bad.temperature = -1;
  EXPECT_THAT(Continuations(runner, prompts, 6, true, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(EvaluatorTest, MultipleChoiceTakesTheArgmaxOverOptionTokens) {
  const std::string prompt = "Which one? Answer:";
  std::map<int64_t, int64_t> succ = {{Ids(prompt).back(), Ids("C")[0]}};
  Runner runner{SuccessorModel(succ), tokenizer_, 2};
  auto suite = Suite(
      R"({"type":"multiple_choice","id":"right","task":"knowledge_mc","prompt":"Which one? Answer:","options":["A","B","C","D"],"label":2}
{"type":"multiple_choice","id":"wrong","task":"knowledge_mc","prompt":"Which one? Answer:","options":["A","B","C","D"],"label":0}
{"type":"multiple_choice","id":"unlabelled","task":"knowledge_mc","prompt":"Which one? Answer:","options":["A","B"]}
)");
  PG_ASSERT_OK_AND_ASSIGN(EvalReport r, Evaluate(runner, suite, {}));
  EXPECT_EQ(r.choice.n, 2);
  EXPECT_EQ(r.choice.correct, 1);

  auto multi = Suite(
      R"({"type":"multiple_choice","id":"long","prompt":"x","options":["A","a very long option"],"label":0})");
  EXPECT_THAT(Evaluate(runner, multi, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("item long (test.jsonl:1): option \"a very long option\"")));
}

TEST_F(EvaluatorTest, RetrievalRanksByPooledCosine) {
  Runner runner{SuccessorModel({}), tokenizer_, 3};
  auto suite = Suite(
      R"({"type":"retrieval","id":"r","task":"retrieval","documents":[{"id":"d1","text":"the red house"},{"id":"d2","text":"a blue boat"}],"queries":[{"id":"q1","text":"red house","relevant":["d1"]},{"id":"q2","text":"blue boat","relevant":["d1"]}]})");
  PG_ASSERT_OK_AND_ASSIGN(EvalReport r, Evaluate(runner, suite, {}));
  EXPECT_EQ(r.retrieval.n, 2);
  EXPECT_EQ(r.retrieval.correct, 1);  // q2's relevant doc is (deliberately) not its nearest
  EXPECT_DOUBLE_EQ(r.retrieval_mrr, (1.0 + 0.5) / 2);
}

TEST_F(EvaluatorTest, BaselineAgreementComparesGreedyContinuations) {
  auto model = SuccessorModel(Chain("Once", " upon a time"));
  auto other = SuccessorModel(Chain("Once", " upon the hill"));
  auto suite = Suite(
      R"({"type":"generation","id":"s","task":"story","prompt":"Once","scoring":"baseline_agreement","max_new_tokens":4})");
  Runner runner{model, tokenizer_, 1};
  PG_ASSERT_OK_AND_ASSIGN(EvalReport skipped, Evaluate(runner, suite, {}));
  EXPECT_EQ(skipped.agreement_skipped, 1);
  EvalOptions same;
  same.baseline = model;
  PG_ASSERT_OK_AND_ASSIGN(EvalReport r, Evaluate(runner, suite, same));
  EXPECT_EQ(r.agreement_by_task["story"].identical, 1);
  EXPECT_DOUBLE_EQ(r.agreement_by_task["story"].token_agreement(), 1.0);
  EvalOptions diff;
  diff.baseline = other;
  PG_ASSERT_OK_AND_ASSIGN(EvalReport d, Evaluate(runner, suite, diff));
  EXPECT_EQ(d.agreement_by_task["story"].identical, 0);
  EXPECT_LT(d.agreement_by_task["story"].token_agreement(), 1.0);
  EXPECT_GT(d.agreement_by_task["story"].token_agreement(), 0.0);  // " upon" agrees
}

TEST_F(EvaluatorTest, JsonHasTheDocumentedHeadlines) {
  Runner runner{SuccessorModel({}), tokenizer_, 2};
  PG_ASSERT_OK_AND_ASSIGN(EvalReport r, Evaluate(runner, tasks::TaskSuite(), {}));
  const std::string j = ReportJson(r);
  EXPECT_THAT(j, HasSubstr("\"generation\":{"));
  EXPECT_THAT(j, HasSubstr("\"exact_match\":"));
  EXPECT_THAT(j, HasSubstr("\"multiple_choice\":{"));
  EXPECT_THAT(j, HasSubstr("\"recall_at_1\":"));
}

}  // namespace
}  // namespace prunegate::eval
