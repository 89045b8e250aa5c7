// The streaming RPCs end to end against the real server (tinykb and a drop candidate of it), and
// every bad input's exact status, with the server still answering afterwards.
#include <algorithm>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/metrics_test_util.h"
#include "tests/service/service_test_util.h"

namespace prunegate::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kPrompt[] = "Q: What colour does Kimpo like best of all? A:";
constexpr int kLayers = 6;
constexpr int kDroppedLayer = 3;  // the candidate "drop3" has no MLP in layer 3

class ProbeTest : public ServerTest<ProbeTest> {
 public:
  static std::vector<std::string> ServerArgs() {
    return TinykbServerArgs({"--max-decode-steps", "64", "--max-request-bytes", "65536",
                             "--max-prompt-tokens", "300", "--max-temperatures", "4", "--max-items",
                             "20"});
  }

 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    if (!FindModel(*stub_, "drop3")) {
      const grpc::Status derived = DeriveDrop(*stub_, "tinykb", "drop3", {kDroppedLayer});
      ASSERT_TRUE(derived.ok()) << derived.error_message();
    }
  }

  v1::TraceDecodeRequest Trace(int steps) const {
    v1::TraceDecodeRequest request;
    request.set_baseline("tinykb");
    request.set_candidate("drop3");
    *request.mutable_prompt() = TextInput(kPrompt);
    request.set_max_steps(steps);
    request.set_ignore_eos(true);
    return request;
  }

  v1::ChoiceItem Choice(const std::string& id, const std::string& prompt, int label) const {
    v1::ChoiceItem item;
    item.set_id(id);
    item.set_prompt(prompt);
    for (const char* option : {" A", " B", " C", " D"}) item.add_options(option);
    item.set_label(label);
    return item;
  }

  // The server answers a trivial call after a bad one.
  void ExpectStillServing() {
    EXPECT_TRUE(FindModel(*stub_, "tinykb").has_value());
    const auto trace = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, Trace(2));
    EXPECT_TRUE(trace.status.ok()) << trace.status.error_message();
  }
};

TEST_F(ProbeTest, ProbeLayersStreamsOneRecordPerStepLayerSublayer) {
  v1::ProbeLayersRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("drop3");
  *request.mutable_prompt() = TextInput(kPrompt);
  request.add_temperatures(1.0);
  request.add_temperatures(0.5);
  request.set_decode_steps(2);
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::ProbeLayers, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 3u * kLayers * 2);  // prompt + 2 steps, last position each
  int64_t prompt_position = -1;
  for (size_t i = 0; i < result.messages.size(); ++i) {
    const v1::LayerRecord& record = result.messages[i];
    const int step = static_cast<int>(i / (kLayers * 2)) - 1;
    EXPECT_EQ(record.step(), step);
    EXPECT_EQ(record.layer(), static_cast<int>(i / 2) % kLayers);
    EXPECT_EQ(record.sublayer(), i % 2 == 0 ? v1::ATTENTION : v1::MLP);
    if (step == -1) prompt_position = record.position();
    EXPECT_EQ(record.position(), prompt_position + step + 1);
    ASSERT_EQ(record.probs_size(), 2);
    EXPECT_EQ(record.probs(0).temperature(), 1.0);
    EXPECT_EQ(record.probs(1).temperature(), 0.5);
    EXPECT_FALSE(record.has_propagated());
    const bool dropped = record.layer() == kDroppedLayer && record.sublayer() == v1::MLP;
    EXPECT_EQ(record.dropped(), dropped);
    EXPECT_EQ(record.shared(), !dropped);
    if (dropped) {
      EXPECT_GT(record.hidden().ang(), 0);
      EXPECT_GT(record.probs(0).kl(), 0);
      EXPECT_GT(record.probs(1).kl(), 0);
      EXPECT_GT(record.probs(0).kl_pred(), 0);
    } else {
      EXPECT_EQ(record.hidden().ang(), 0);
      EXPECT_EQ(record.probs(0).kl(), 0);
    }
  }
  EXPECT_GT(prompt_position, 0);
}

TEST_F(ProbeTest, ProbeLayersPropagatedAndAllPositions) {
  v1::ProbeLayersRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("drop3");
  *request.mutable_prompt() = IdsInput({1535, 40, 41, 42, 43});
  request.set_mode(v1::PROPAGATED);
  request.set_all_positions(true);
  request.set_lens(v1::RAW);
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::ProbeLayers, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 5u * kLayers * 2);
  int propagated = 0;
  for (const v1::LayerRecord& record : result.messages) {
    EXPECT_GE(record.position(), 0);
    EXPECT_LT(record.position(), 5);
    if (record.has_propagated()) {
      ++propagated;
      EXPECT_EQ(record.propagated_probs_size(), 1);
      if (record.dropped()) {
        EXPECT_GT(record.propagated_hidden().ang(), 0);
      }
    }
  }
  EXPECT_GE(propagated, 5);  // at least the dropped sublayer at every position
}

TEST_F(ProbeTest, TraceDecodeStreamsEveryStepThenTheSummary) {
  v1::TraceDecodeRequest request = Trace(8);
  request.add_temperatures(1.0);
  request.add_temperatures(0.25);
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 9u);
  int first_divergence = -1, agree = 0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(result.messages[i].has_step());
    const v1::TraceStep& step = result.messages[i].step();
    EXPECT_EQ(step.step(), i);
    EXPECT_EQ(step.probs_size(), 2);
    EXPECT_FALSE(step.text_a().empty());
    EXPECT_EQ(step.agree(), step.token_a() == step.token_b());
    agree += step.agree();
    if (!step.agree() && first_divergence < 0) first_divergence = i;
  }
  ASSERT_TRUE(result.messages.back().has_summary());
  const v1::TraceSummary& summary = result.messages.back().summary();
  EXPECT_EQ(summary.steps(), 8);
  EXPECT_EQ(summary.first_divergence(), first_divergence);
  EXPECT_DOUBLE_EQ(summary.token_agreement(), agree / 8.0);
  EXPECT_EQ(summary.tokens_a_size(), 8);
  EXPECT_EQ(summary.tokens_b_size(), 8);
  EXPECT_FALSE(summary.text_a().empty());
  EXPECT_GT(summary.mean_kl(), 0);
}

TEST_F(ProbeTest, TraceDecodeOfAModelAgainstItselfNeverDiverges) {
  v1::TraceDecodeRequest request = Trace(6);
  request.set_candidate("tinykb");
  request.mutable_sampling()->set_temperature(0.8);
  request.mutable_sampling()->set_seed(7);
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  const v1::TraceSummary& summary = result.messages.back().summary();
  EXPECT_EQ(summary.first_divergence(), -1);
  EXPECT_EQ(summary.token_agreement(), 1.0);
  EXPECT_EQ(summary.mean_kl(), 0);
  EXPECT_EQ(summary.text_a(), summary.text_b());
}

TEST_F(ProbeTest, TraceDecodeTeacherFollowsTheReference) {
  v1::TraceDecodeRequest request = Trace(10);
  request.set_mode(v1::TEACHER);
  *request.mutable_reference() = TextInput(" Kimpo's favourite colour is green.");
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  const v1::TraceSummary& summary = result.messages.back().summary();
  EXPECT_GT(summary.steps(), 2);
  EXPECT_LE(summary.steps(), 10);
  EXPECT_EQ(result.messages.size(), static_cast<size_t>(summary.steps()) + 1);
}

TEST_F(ProbeTest, ProbeChoicesStreamsEveryItemThenTheSummary) {
  v1::ProbeChoicesRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("drop3");
  for (int i = 0; i < 10; ++i) {  // more than one chunk
    *request.add_items() = Choice(
        "kmc-" + std::to_string(i),
        "Q: What colour does Kimpo like best of all?\nA. brown\nB. green\nC. orange\nD. purple\n"
        "Answer:",
        1);
  }
  request.mutable_items(9)->clear_label();
  request.add_temperatures(1.0);
  request.add_temperatures(2.0);
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::ProbeChoices, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 11u);
  for (int i = 0; i < 10; ++i) {
    const v1::ChoiceResult& item = result.messages[i].item();
    EXPECT_EQ(item.index(), i);
    EXPECT_EQ(item.id(), "kmc-" + std::to_string(i));
    ASSERT_EQ(item.subspace_size(), 2);
    EXPECT_EQ(item.subspace(0).p_size(), 4);
    EXPECT_EQ(item.label(), i == 9 ? -1 : 1);
  }
  const v1::ChoiceSummary& summary = result.messages.back().summary();
  EXPECT_EQ(summary.items(), 10);
  EXPECT_EQ(summary.labelled(), 9);
  EXPECT_THAT(summary.temperatures(), ::testing::ElementsAre(1.0, 2.0));
  EXPECT_EQ(summary.mean_kl_size(), 2);
  // Identical items: every item's statistics equal the first one's, up to float32 rounding (items
  // in different chunks go through GEMMs of different shapes, whose kernels round differently).
  const double first_kl = result.messages[0].item().subspace(0).kl();
  EXPECT_NEAR(summary.mean_kl(0), first_kl, 1e-3 * first_kl);
}

TEST_F(ProbeTest, ProbeEmbeddingsStreamsTextsThenTheSummary) {
  v1::ProbeEmbeddingsRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("drop3");
  for (const char* text : {"Kimpo likes green.", "The bakery is on the hill.", "Seven plus two"}) {
    request.add_texts(text);
  }
  v1::RetrievalSet* set = request.add_sets();
  set->set_id("set-0");
  for (int i = 0; i < 3; ++i) {
    v1::Document* doc = set->add_documents();
    doc->set_id("d" + std::to_string(i));
    doc->set_text(i == 0   ? "Kimpo lives in the stone cottage and likes green."
                  : i == 1 ? "Meki is a baker who lives on the hill farm."
                           : "Vofo keeps a small dog.");
  }
  v1::Query* query = set->add_queries();
  query->set_id("q0");
  query->set_text("Where does Kimpo live?");
  query->add_relevant("d0");
  request.set_pooling(v1::MEAN);
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::ProbeEmbeddings, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 4u);
  double sum = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(result.messages[i].text().index(), i);
    EXPECT_GT(result.messages[i].text().cosine(), 0.5);
    EXPECT_LE(result.messages[i].text().cosine(), 1.0 + 1e-6);
    sum += result.messages[i].text().cosine();
  }
  const v1::EmbeddingSummary& summary = result.messages.back().summary();
  EXPECT_NEAR(summary.mean_cosine(), sum / 3, 1e-12);
  EXPECT_EQ(summary.queries(), 1);
}

TEST_F(ProbeTest, SummarizeKlStreamsProgressThenTheStatistics) {
  v1::SummarizeKlRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("drop3");
  std::string text;
  for (int i = 0; i < 6; ++i) {
    text += "Once upon a time, there was a little girl who liked to play in the garden. ";
  }
  *request.mutable_text() = TextInput(text);
  request.set_context(32);
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::SummarizeKl, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_GE(result.messages.size(), 3u);
  for (size_t i = 0; i + 1 < result.messages.size(); ++i) {
    ASSERT_TRUE(result.messages[i].has_progress());
    EXPECT_FALSE(result.messages[i].progress().has_temperature());  // one T for the whole text
    EXPECT_EQ(result.messages[i].progress().done(), static_cast<int64_t>(i) + 1);
    EXPECT_EQ(result.messages[i].progress().total(),
              static_cast<int64_t>(result.messages.size()) - 1);
  }
  const v1::KlSummary& summary = result.messages.back().summary();
  EXPECT_GT(summary.tokens(), 0);
  EXPECT_GT(summary.kl().mean(), 0);
  EXPECT_GE(summary.kl().max(), summary.kl().median());
  EXPECT_THAT(summary.text(), HasSubstr("KL divergence"));
}

TEST_F(ProbeTest, AssessStreamsProgressThenTheVerdicts) {
  v1::AssessRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("drop3");
  request.set_task(v1::GENERATION);
  request.add_temperatures(1.0);
  request.add_temperatures(0.5);
  request.set_max_steps(6);
  request.add_prompts(kPrompt);
  request.add_prompts("Q: Where is the home of Kimpo? A:");
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::Assess, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), 5u);  // 2 prompts x 2 temperatures, then the assessment
  for (int i = 0; i < 4; ++i) {
    const v1::Progress& progress = result.messages[i].progress();
    EXPECT_EQ(progress.stage(), "generation");
    EXPECT_EQ(progress.done(), i + 1);
    EXPECT_EQ(progress.total(), 4);
    // Generation runs per temperature, in the request's order: each message says which.
    ASSERT_TRUE(progress.has_temperature()) << "message " << i;
    EXPECT_EQ(progress.temperature(), i < 2 ? 1.0 : 0.5) << "message " << i;
  }
  const v1::Assessment& assessment = result.messages.back().assessment();
  EXPECT_EQ(assessment.task(), v1::GENERATION);
  ASSERT_EQ(assessment.verdicts_size(), 2);
  EXPECT_EQ(assessment.verdicts(1).temperature(), 0.5);
  EXPECT_NE(assessment.overall(), v1::VERDICT_UNSPECIFIED);
  EXPECT_FALSE(assessment.verdicts(0).checks().empty());
  EXPECT_THAT(assessment.json(), HasSubstr("\"verdicts\""));
}

TEST_F(ProbeTest, AssessUsesTheBaselinesTaskItemsByDefault) {
  for (v1::TaskType task : {v1::MULTIPLE_CHOICE, v1::RETRIEVAL}) {
    v1::AssessRequest request;
    request.set_baseline("tinykb");
    request.set_candidate("drop3");
    request.set_task(task);
    const auto result = Stream(*stub_, &v1::Prunegate::Stub::Assess, request);
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    ASSERT_GE(result.messages.size(), 2u);
    EXPECT_TRUE(result.messages.front().has_progress());
    // These stages cover every temperature at once: no temperature in their progress.
    EXPECT_FALSE(result.messages.front().progress().has_temperature());
    EXPECT_EQ(result.messages.back().assessment().task(), task);
    EXPECT_EQ(result.messages.back().assessment().verdicts_size(), 1);
  }
}

// The live server's /metrics, after RPCs that fill every family (streams that succeed and fail,
// a verdict, a KL summary, resident models), passes promtool's linter.
TEST_F(ProbeTest, LiveMetricsPassPromtoolCheckMetrics) {
  const std::optional<std::string> promtool = FindExecutable("promtool");
  if (!promtool) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus): the live /metrics "
                    "exposition is not linted";
  }
  ASSERT_TRUE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, Trace(3)).status.ok());
  v1::TraceDecodeRequest unknown = Trace(2);
  unknown.set_candidate("no-such-model");
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, unknown).status, NOT_FOUND);
  v1::AssessRequest assess;
  assess.set_baseline("tinykb");
  assess.set_candidate("drop3");
  assess.set_task(v1::GENERATION);
  assess.set_max_steps(2);
  assess.add_prompts(kPrompt);
  ASSERT_TRUE(Stream(*stub_, &v1::Prunegate::Stub::Assess, assess).status.ok());
  v1::SummarizeKlRequest kl;
  kl.set_baseline("tinykb");
  kl.set_candidate("drop3");
  *kl.mutable_text() = TextInput(kPrompt);
  ASSERT_TRUE(Stream(*stub_, &v1::Prunegate::Stub::SummarizeKl, kl).status.ok());

  const absl::StatusOr<HttpResult> scrape =
      HttpGet("127.0.0.1", server_->metrics_port(), "/metrics");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  ASSERT_EQ(scrape->status, 200);
  for (const char* family :
       {"prunegate_rpc_requests_total{", "prunegate_rpc_latency_seconds_bucket{",
        "prunegate_verdicts_total{", "prunegate_last_kl{", "prunegate_forward_tokens_total{"}) {
    EXPECT_THAT(scrape->body, HasSubstr(family));
  }
  const absl::StatusOr<CommandResult> lint =
      RunCommand({*promtool, "check", "metrics"}, scrape->body);
  ASSERT_TRUE(lint.ok()) << lint.status();
  EXPECT_EQ(lint->exit_code, 0) << lint->output << "\n--- /metrics ---\n" << scrape->body;
}

TEST_F(ProbeTest, BadInputsGetTheirExactStatus) {
  v1::TraceDecodeRequest request = Trace(2);
  request.set_candidate("no-such-model");
  auto result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  EXPECT_CODE(result.status, NOT_FOUND);
  EXPECT_TRUE(result.messages.empty());

  request = Trace(2);
  request.set_baseline("");
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status, INVALID_ARGUMENT);

  request = Trace(2);
  *request.mutable_prompt() = TextInput("");
  result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  EXPECT_CODE(result.status, INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("prompt is empty"));
  request.clear_prompt();
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status, INVALID_ARGUMENT);
  *request.mutable_prompt() = IdsInput({});
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status, INVALID_ARGUMENT);

  *request.mutable_prompt() = IdsInput({5, 1536});
  result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  EXPECT_CODE(result.status, INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("prompt.ids[1] = 1536 is outside"));
  *request.mutable_prompt() = IdsInput({-1});
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status, INVALID_ARGUMENT);

  for (double t : {0.0, -1.0}) {
    request = Trace(2);
    request.add_temperatures(t);
    result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
    EXPECT_CODE(result.status, INVALID_ARGUMENT);
    EXPECT_THAT(result.status.error_message(), HasSubstr("temperature must be finite and > 0"));
  }
  request = Trace(2);
  request.mutable_sampling()->set_temperature(-0.5);
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status, INVALID_ARGUMENT);
  request = Trace(2);
  request.set_top_k(5000);
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status, INVALID_ARGUMENT);
  request = Trace(2);
  *request.mutable_reference() = TextInput("only with TEACHER");
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status, INVALID_ARGUMENT);

  v1::ProbeLayersRequest layers;
  layers.set_baseline("tinykb");
  layers.set_candidate("drop3");
  *layers.mutable_prompt() = TextInput(kPrompt);
  layers.set_decode_steps(-1);
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::ProbeLayers, layers).status, INVALID_ARGUMENT);
  layers.set_decode_steps(0);
  layers.add_temperatures(0);
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::ProbeLayers, layers).status, INVALID_ARGUMENT);

  v1::ProbeChoicesRequest choices;
  choices.set_baseline("tinykb");
  choices.set_candidate("drop3");
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::ProbeChoices, choices).status, INVALID_ARGUMENT);
  *choices.add_items() = Choice("x", "Q?", 7);
  result.status = Stream(*stub_, &v1::Prunegate::Stub::ProbeChoices, choices).status;
  EXPECT_CODE(result.status, INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("items[0]"));

  v1::SummarizeKlRequest kl;
  kl.set_baseline("tinykb");
  kl.set_candidate("drop3");
  *kl.mutable_text() = TextInput("a b c d e f g");
  kl.set_temperature(-2);
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::SummarizeKl, kl).status, INVALID_ARGUMENT);

  v1::AssessRequest assess;
  assess.set_baseline("tinykb");
  assess.set_candidate("drop3");
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::Assess, assess).status, INVALID_ARGUMENT);
  assess.set_task(v1::GENERATION);
  assess.set_policy_json("{\"generation\": {\"no_such_rule\": 1}}");
  result.status = Stream(*stub_, &v1::Prunegate::Stub::Assess, assess).status;
  EXPECT_CODE(result.status, INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("policy_json"));
  ExpectStillServing();
}

TEST_F(ProbeTest, MismatchedVocabulariesAreRejected) {
  if (!FindModel(*stub_, "other")) {
    ASSERT_TRUE(LoadModel(*stub_, "other", "other").ok());
  }
  v1::TraceDecodeRequest request = Trace(2);
  request.set_candidate("other");
  *request.mutable_prompt() = IdsInput({1, 2, 3});
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  EXPECT_CODE(result.status, INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("different vocabularies (1536 vs 64"));
  // The fixture has no tokenizer: text against it alone cannot be encoded.
  request.set_baseline("other");
  *request.mutable_prompt() = TextInput("hello");
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status,
              FAILED_PRECONDITION);
  ExpectStillServing();
}

TEST_F(ProbeTest, RequestLimitsAreResourceExhausted) {
  v1::TraceDecodeRequest request = Trace(65);  // --max-decode-steps 64
  auto result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  EXPECT_CODE(result.status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("--max-decode-steps 64"));

  request = Trace(2);
  *request.mutable_prompt() = IdsInput(std::vector<int64_t>(301, 7));  // --max-prompt-tokens 300
  result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  EXPECT_CODE(result.status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("--max-prompt-tokens"));

  request = Trace(2);
  for (int i = 0; i < 5; ++i) request.add_temperatures(1.0 + i);  // --max-temperatures 4
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status,
              RESOURCE_EXHAUSTED);

  v1::ProbeEmbeddingsRequest embeddings;
  embeddings.set_baseline("tinykb");
  embeddings.set_candidate("drop3");
  for (int i = 0; i < 21; ++i) embeddings.add_texts("text");  // --max-items 20
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::ProbeEmbeddings, embeddings).status,
              RESOURCE_EXHAUSTED);

  // One retrieval set of 21 documents and queries: over --max-items for Assess as well.
  v1::AssessRequest assess;
  assess.set_baseline("tinykb");
  assess.set_candidate("drop3");
  assess.set_task(v1::RETRIEVAL);
  assess.add_temperatures(1.0);
  v1::RetrievalSet* set = assess.add_sets();
  for (int i = 0; i < 20; ++i) {
    v1::Document* doc = set->add_documents();
    doc->set_id("d" + std::to_string(i));
    doc->set_text("text");
  }
  v1::Query* query = set->add_queries();
  query->set_id("q");
  query->set_text("which?");
  query->add_relevant("d0");
  const auto assessed = Stream(*stub_, &v1::Prunegate::Stub::Assess, assess);
  EXPECT_CODE(assessed.status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(assessed.status.error_message(), HasSubstr("sets[0] documents and queries"));

  request = Trace(2);
  *request.mutable_prompt() = TextInput(std::string(70000, 'a'));  // --max-request-bytes 65536
  EXPECT_CODE(Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request).status,
              RESOURCE_EXHAUSTED);
  ExpectStillServing();
}

}  // namespace
}  // namespace prunegate::testing
