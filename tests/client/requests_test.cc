// The commands' flags turned into requests, and the rows and summaries their streams print;
// no server.
#include <fstream>

#include "client/gate_command.h"
#include "client/models_command.h"
#include "client/probe_commands.h"
#include "client/rank_layers_command.h"
#include "client/task_probe_commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::client {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kTasks[] =
    R"({"type":"generation","id":"g1","prompt":"Q: Where does Bobo live? A:","reference":" red house."}
{"type":"multiple_choice","id":"m1","prompt":"Pick:\nA. x\nB. y\nAnswer:","options":[" A"," B"],"label":1}
{"type":"multiple_choice","id":"m2","prompt":"Yes? Answer:","options":[" yes"," no"]}
)";

std::string WriteFile(const std::string& name, const std::string& text) {
  static const std::string dir = prunegate::testing::MakeTempDir("prunegate-client-test");
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

template <typename Args, typename Request>
absl::StatusOr<Request> Build(FlagSet (*make_flags)(Args*),
                              absl::StatusOr<Request> (*build)(const FlagSet&, const Args&),
                              const std::vector<std::string>& argv) {
  Args args;
  FlagSet flags = make_flags(&args);
  if (absl::Status s = flags.Parse(argv); !s.ok()) return s;
  return build(flags, args);
}

TEST(DeriveTest, ByCountAndByLayers) {
  auto by_count = Build(DeriveFlags, DeriveRequestFrom,
                        {"--baseline", "tinykb", "--name", "c", "--recipe", "drop-mlp", "--count",
                         "2", "--iterative"});
  ASSERT_THAT(by_count, IsOk());
  EXPECT_EQ(by_count->baseline(), "tinykb");
  EXPECT_EQ(by_count->recipe().kind(), v1::DROP_MLP);
  EXPECT_EQ(by_count->recipe().count(), 2);
  EXPECT_EQ(by_count->recipe().selection(), v1::ITERATIVE);
  auto by_layers =
      Build(DeriveFlags, DeriveRequestFrom,
            {"--baseline", "tinykb", "--name", "c", "--recipe", "drop-block", "--layers", "3,4"});
  ASSERT_THAT(by_layers, IsOk());
  EXPECT_EQ(by_layers->recipe().kind(), v1::DROP_BLOCK);
  EXPECT_THAT(by_layers->recipe().layers(), ElementsAre(3, 4));
  EXPECT_EQ(by_layers->recipe().selection(), v1::ONE_SHOT);
}

TEST(DeriveTest, RejectsBadCombinations) {
  const std::vector<std::string> base = {"--baseline", "b", "--name", "c"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Build(DeriveFlags, DeriveRequestFrom, argv);
  };
  EXPECT_THAT(with({"--recipe", "drop-mlp"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--count, --layers")));
  EXPECT_THAT(with({"--recipe", "drop-mlp", "--count", "1", "--layers", "2"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(with({"--recipe", "prune-all", "--count", "1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drop-attention")));
  EXPECT_THAT(with({"--recipe", "drop-mlp", "--count", "0"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(with({"--recipe", "drop-mlp", "--layers", "1", "--iterative"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--iterative")));
  EXPECT_THAT(with({"--count", "1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing --recipe")));
}

TEST(ProbeLayersTest, PromptOrIdsAndEnums) {
  auto request =
      Build(ProbeLayersFlags, ProbeLayersRequestFrom,
            {"--baseline", "a", "--candidate", "b", "--ids", "1,2,3", "--temperature", "0.7,1.0",
             "--lens", "raw", "--mode", "propagated", "--all-positions", "--decode-steps", "4"});
  ASSERT_THAT(request, IsOk());
  EXPECT_THAT(request->prompt().ids().ids(), ElementsAre(1, 2, 3));
  EXPECT_THAT(request->temperatures(), ElementsAre(0.7, 1.0));
  EXPECT_EQ(request->lens(), v1::RAW);
  EXPECT_EQ(request->mode(), v1::PROPAGATED);
  EXPECT_TRUE(request->all_positions());
  EXPECT_EQ(request->decode_steps(), 4);

  auto text = Build(ProbeLayersFlags, ProbeLayersRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--prompt", "Hello"});
  ASSERT_THAT(text, IsOk());
  EXPECT_EQ(text->prompt().text(), "Hello");
  EXPECT_EQ(text->lens(), v1::NORM_HEAD);
  EXPECT_EQ(text->mode(), v1::LOCAL);

  EXPECT_THAT(Build(ProbeLayersFlags, ProbeLayersRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--prompt", "x", "--ids", "1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--prompt, --ids")));
  EXPECT_THAT(Build(ProbeLayersFlags, ProbeLayersRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--prompt", "x", "--lens", "wide"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("norm or raw")));
  EXPECT_THAT(Build(ProbeLayersFlags, ProbeLayersRequestFrom, {"--baseline", "a", "--prompt", "x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing --candidate")));
}

TEST(RankLayersTest, RequestAndTable) {
  auto request = Build(RankLayersFlags, RankLayersRequestFrom,
                       {"--baseline", "a", "--recipe", "drop-attention", "--prompt", "x y",
                        "--prompt", "z", "--temperature", "0.5,1"});
  ASSERT_THAT(request, IsOk());
  EXPECT_EQ(request->baseline(), "a");
  EXPECT_EQ(request->family(), v1::DROP_ATTENTION);
  ASSERT_EQ(request->prompts_size(), 2);
  EXPECT_EQ(request->prompts(0).text(), "x y");
  EXPECT_EQ(request->prompts(1).text(), "z");
  EXPECT_THAT(request->temperatures(), ElementsAre(0.5, 1.0));
  auto defaults =
      Build(RankLayersFlags, RankLayersRequestFrom, {"--baseline", "a", "--recipe", "drop-mlp"});
  ASSERT_THAT(defaults, IsOk());
  EXPECT_EQ(defaults->family(), v1::DROP_MLP);
  EXPECT_EQ(defaults->prompts_size(), 0);
  EXPECT_THAT(
      Build(RankLayersFlags, RankLayersRequestFrom, {"--baseline", "a", "--recipe", "drop-block"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drop-attention or drop-mlp")));
  EXPECT_THAT(Build(RankLayersFlags, RankLayersRequestFrom, {"--baseline", "a"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing --recipe")));

  v1::LayerRanking ranking;
  ranking.set_family(v1::DROP_MLP);
  ranking.add_temperatures(1.0);
  ranking.set_prompts(2);
  ranking.set_positions(20);
  for (int layer : {4, 1}) {
    v1::LayerDamage* d = ranking.add_layers();
    d->set_layer(layer);
    d->set_damage_rank(ranking.layers_size());
    d->set_importance_rank(layer == 1 ? 2 : 1);
    d->set_importance(layer == 1 ? 0.9 : 0.95);
    v1::LayerDamageAtTemperature* t = d->add_temperatures();
    t->set_temperature(1.0);
    t->set_propagated_kl(layer == 1 ? 0.5 : 0.01);
  }
  ranking.add_by_importance(4);
  ranking.add_by_importance(1);
  const std::string text = RankingText(ranking, "base");
  EXPECT_THAT(text, HasSubstr("baseline base, drop-mlp, 2 prompts (20 positions)"));
  EXPECT_THAT(text, HasSubstr("out KL@1"));
  EXPECT_THAT(text, HasSubstr("least damaging first (measured): 4 1"));
  EXPECT_THAT(text, HasSubstr("most similar first (importance): 4 1"));
}

TEST(ProbeLayersTest, TableRowPerRecord) {
  const Table table = LayerTable({0.7, 1.0}, /*propagated=*/false);
  EXPECT_THAT(table.Header(), HasSubstr("KL@0.7"));
  EXPECT_THAT(table.Header(), HasSubstr("pred@1"));
  v1::LayerRecord record;
  record.set_layer(3);
  record.set_sublayer(v1::MLP);
  record.set_position(7);
  record.set_step(-1);
  record.set_dropped(true);
  record.mutable_hidden()->set_ang(0.0125);
  record.mutable_logits()->set_top1_a(5);
  record.mutable_logits()->set_top1_b(9);
  for (double t : {0.7, 1.0}) {
    v1::ProbStats* p = record.add_probs();
    p->set_temperature(t);
    p->set_kl(0.5 / t);
    p->set_kl_pred(0.4 / t);
  }
  EXPECT_THAT(LayerCells(record, false), ElementsAre("3", "mlp", "7", "-", "dropped", "0.0125", "0",
                                                     "0", "0.7143", "0.5714", "0.5", "0.4", "5/9"));
}

TEST(TraceTest, RequestAndRows) {
  auto request = Build(TraceFlags, TraceRequestFrom,
                       {"--baseline",
                        "a",
                        "--candidate",
                        "b",
                        "--prompt",
                        "Once",
                        "--mode",
                        "teacher",
                        "--steps",
                        "8",
                        "--sample-temperature",
                        "0.8",
                        "--seed",
                        "7",
                        "--top-k",
                        "40",
                        "--top-p",
                        "0.9",
                        "--reference",
                        " upon a time"});
  ASSERT_THAT(request, IsOk());
  EXPECT_EQ(request->mode(), v1::TEACHER);
  EXPECT_EQ(request->max_steps(), 8);
  EXPECT_DOUBLE_EQ(request->sampling().temperature(), 0.8);
  EXPECT_EQ(request->sampling().seed(), 7u);
  EXPECT_EQ(request->sampling().top_k(), 40);
  EXPECT_DOUBLE_EQ(request->sampling().top_p(), 0.9);
  EXPECT_EQ(request->reference().text(), " upon a time");
  EXPECT_THAT(Build(TraceFlags, TraceRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--prompt", "x", "--reference", "y"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--mode teacher")));

  v1::TraceStep step;
  step.set_step(2);
  step.set_position(9);
  step.set_token_a(11);
  step.set_token_b(12);
  step.set_text_a(" red");
  step.set_text_b("\n");
  step.add_probs()->set_kl(0.25);
  EXPECT_THAT(TraceCells(step),
              ElementsAre("2", "9", "11", "12", "\" red\"", "\"\\n\"", "no", "0.25", "0"));
  v1::TraceSummary summary;
  summary.set_steps(8);
  summary.set_first_divergence(-1);
  summary.set_token_agreement(1);
  summary.set_text_a(" upon");
  const std::string text = TraceSummaryText(summary);
  EXPECT_THAT(text, HasSubstr("first divergence: none"));
  EXPECT_THAT(text, HasSubstr("baseline:  \" upon\""));
}

TEST(EmbeddingsTest, TextsOrRetrievalSets) {
  const std::string texts = WriteFile("texts.txt", "first text\n\n  \nsecond text\r\n");
  auto request =
      Build(EmbeddingsFlags, EmbeddingsRequestFrom,
            {"--baseline", "a", "--candidate", "b", "--texts", texts, "--pooling", "mean"});
  ASSERT_THAT(request, IsOk());
  EXPECT_THAT(request->texts(), ElementsAre("first text", "second text"));
  EXPECT_EQ(request->pooling(), v1::MEAN);
  const std::string items = WriteFile(
      "sets.jsonl",
      R"({"type":"retrieval","id":"r1","documents":[{"id":"d1","text":"Bobo bakes."}],"queries":[{"id":"q1","text":"Who bakes?","relevant":["d1"]}]})"
      "\n");
  auto sets = Build(EmbeddingsFlags, EmbeddingsRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--items", items});
  ASSERT_THAT(sets, IsOk());
  ASSERT_EQ(sets->sets_size(), 1);
  EXPECT_EQ(sets->sets(0).queries(0).relevant(0), "d1");
  EXPECT_THAT(
      Build(EmbeddingsFlags, EmbeddingsRequestFrom,
            {"--baseline", "a", "--candidate", "b", "--items", WriteFile("t.jsonl", kTasks)}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no retrieval items")));
  EXPECT_THAT(Build(EmbeddingsFlags, EmbeddingsRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--texts", "/nonexistent/x"}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(ChoicesTest, RowsAndSummary) {
  v1::ChoiceResult result;
  result.set_index(0);
  result.set_id("m1");
  result.set_label(-1);
  v1::SubspaceStats* s = result.add_subspace();
  s->set_argmax_a(1);
  s->set_argmax_b(1);
  s->set_argmax_agree(true);
  s->set_kl(0.002);
  EXPECT_THAT(ChoiceCells(result), ElementsAre("0", "m1", "-", "1", "1", "yes", "0.002"));
  v1::ChoiceSummary summary;
  summary.set_items(2);
  summary.set_labelled(1);
  summary.set_accuracy_a(1);
  summary.add_temperatures(1.0);
  summary.add_mean_kl(0.01);
  EXPECT_THAT(ChoiceSummaryText(summary), HasSubstr("accuracy: baseline 1.000  candidate 0.000"));
  EXPECT_THAT(ChoiceSummaryText(summary), HasSubstr("mean subspace KL at T=1: 0.01"));
}

TEST(GateTest, RequestTakesTheTaskTypesItems) {
  const std::string tasks = WriteFile("tasks.jsonl", kTasks);
  const std::string policy = WriteFile("policy.json", R"({"generation":{"max_steps":8}})");
  auto mc =
      Build(GateFlags, GateRequestFrom,
            {"--baseline", "a", "--candidate", "b", "--task", "multiple-choice", "--temperature",
             "0.2,1.0", "--tasks", tasks, "--policy", policy, "--steps", "12"});
  ASSERT_THAT(mc, IsOk());
  EXPECT_EQ(mc->task(), v1::MULTIPLE_CHOICE);
  EXPECT_THAT(mc->temperatures(), ElementsAre(0.2, 1.0));
  ASSERT_EQ(mc->choices_size(), 2);
  EXPECT_EQ(mc->choices(0).label(), 1);
  EXPECT_FALSE(mc->choices(1).has_label());
  EXPECT_THAT(mc->prompts(), IsEmpty());
  EXPECT_EQ(mc->max_steps(), 12);
  EXPECT_THAT(mc->policy_json(), HasSubstr("max_steps"));

  auto gen =
      Build(GateFlags, GateRequestFrom,
            {"--baseline", "a", "--candidate", "b", "--task", "generation", "--tasks", tasks});
  ASSERT_THAT(gen, IsOk());
  EXPECT_THAT(gen->prompts(), ElementsAre("Q: Where does Bobo live? A:"));

  EXPECT_THAT(
      Build(GateFlags, GateRequestFrom,
            {"--baseline", "a", "--candidate", "b", "--task", "retrieval", "--tasks", tasks}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no retrieval items")));
  EXPECT_THAT(Build(GateFlags, GateRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--task", "summarize"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("generation or")));
  EXPECT_THAT(Build(GateFlags, GateRequestFrom,
                    {"--baseline", "a", "--candidate", "b", "--task", "generation", "--tasks",
                     WriteFile("bad.jsonl", "{\"type\":\"generation\"}\n")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.jsonl:1")));
}

}  // namespace
}  // namespace prunegate::client
