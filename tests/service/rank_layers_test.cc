// RankLayers end to end against the real server with tinykb: progress, then one ranking row per
// layer in the order of the measured propagated KL; the default prompt set; every bad input's
// exact status, with the server still serving and the calls counted in /metrics.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/service_test_util.h"

namespace prunegate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr int kLayers = 6;

class RankLayersTest : public ServerTest<RankLayersTest> {
 public:
  static std::vector<std::string> ServerArgs() {
    return TinykbServerArgs(
        {"--max-prompt-tokens", "300", "--max-temperatures", "3", "--max-items", "10"});
  }

 protected:
  static v1::RankLayersRequest Request(v1::DropKind family) {
    v1::RankLayersRequest request;
    request.set_baseline("tinykb");
    request.set_family(family);
    return request;
  }

  StreamResult<v1::RankLayersEvent> Rank(const v1::RankLayersRequest& request) {
    return Stream(*stub_, &v1::Prunegate::Stub::RankLayers, request);
  }

  // The ranking of `result`: every message before it is progress, the last is the ranking, and
  // it is consistent with itself (ranks, orders, temperatures).
  static v1::LayerRanking CheckedRanking(const StreamResult<v1::RankLayersEvent>& result,
                                         const std::vector<double>& temperatures) {
    EXPECT_TRUE(result.status.ok()) << result.status.error_message();
    if (result.messages.empty() || !result.messages.back().has_ranking()) {
      ADD_FAILURE() << "no ranking at the end of the stream";
      return v1::LayerRanking();
    }
    const v1::LayerRanking& ranking = result.messages.back().ranking();
    // Progress: the importance pass, then one message per prompt.
    EXPECT_EQ(result.messages.size(), static_cast<size_t>(ranking.prompts()) + 2);
    for (size_t i = 0; i + 1 < result.messages.size(); ++i) {
      EXPECT_TRUE(result.messages[i].has_progress()) << "message " << i;
      const v1::Progress& p = result.messages[i].progress();
      EXPECT_EQ(p.stage(), i == 0 ? "importance" : "probe");
      EXPECT_EQ(p.done(), i == 0 ? 1 : static_cast<int64_t>(i));
      EXPECT_EQ(p.total(), i == 0 ? 1 : ranking.prompts());
    }
    EXPECT_THAT(ranking.temperatures(), ::testing::ElementsAreArray(temperatures));
    EXPECT_EQ(ranking.layers_size(), kLayers);
    std::vector<int> layers;
    for (int i = 0; i < ranking.layers_size(); ++i) {
      const v1::LayerDamage& row = ranking.layers(i);
      layers.push_back(row.layer());
      EXPECT_EQ(row.damage_rank(), i + 1);
      EXPECT_EQ(ranking.by_importance(row.importance_rank() - 1), row.layer());
      EXPECT_GT(row.importance(), -1.0);
      EXPECT_LE(row.importance(), 1.0 + 1e-6);
      EXPECT_GT(row.ang_h(), 0);
      EXPECT_GE(row.top1_agreement(), 0);
      EXPECT_LE(row.top1_agreement(), 1);
      EXPECT_EQ(row.sublayer(), ranking.family() == v1::DROP_MLP ? v1::MLP : v1::ATTENTION);
      EXPECT_EQ(row.temperatures_size(), static_cast<int>(temperatures.size()));
      for (int t = 0; t < row.temperatures_size(); ++t) {
        EXPECT_EQ(row.temperatures(t).temperature(), temperatures[t]);
        EXPECT_GT(row.temperatures(t).kl(), 0);
        EXPECT_GT(row.temperatures(t).kl_pred(), 0);
        EXPECT_GT(row.temperatures(t).propagated_kl(), 0);
      }
      if (i > 0) {  // least to most damaging by the propagated KL at the first temperature
        EXPECT_LE(ranking.layers(i - 1).temperatures(0).propagated_kl(),
                  row.temperatures(0).propagated_kl());
      }
    }
    EXPECT_THAT(layers, UnorderedElementsAre(0, 1, 2, 3, 4, 5));
    EXPECT_THAT(std::vector<int>(ranking.by_importance().begin(), ranking.by_importance().end()),
                UnorderedElementsAre(0, 1, 2, 3, 4, 5));
    return ranking;
  }
};

TEST_F(RankLayersTest, StreamsProgressThenEveryLayerRankedByPropagatedKl) {
  v1::RankLayersRequest request = Request(v1::DROP_MLP);
  *request.add_prompts() = TextInput("Q: What colour does Kimpo like best of all? A:");
  *request.add_prompts() = TextInput("Q: What is 23 + 45? A:");
  *request.add_prompts() = IdsInput({1535, 40, 41, 42, 43});
  request.add_temperatures(1.0);
  request.add_temperatures(0.5);
  const auto result = Rank(request);
  const v1::LayerRanking ranking = CheckedRanking(result, {1.0, 0.5});
  EXPECT_EQ(ranking.family(), v1::DROP_MLP);
  EXPECT_EQ(ranking.prompts(), 3);
  EXPECT_GT(ranking.positions(), 5);
}

TEST_F(RankLayersTest, EmptyPromptsUseTheBaselinesTaskPrompts) {
  const auto result = Rank(Request(v1::DROP_ATTENTION));
  const v1::LayerRanking ranking = CheckedRanking(result, {1.0});
  EXPECT_EQ(ranking.family(), v1::DROP_ATTENTION);
  // tinykb's tasks/ has three generation tasks; 16 prompts of each (more than --max-items 10,
  // which bounds the request, not the server's own set).
  EXPECT_EQ(ranking.prompts(), 3 * 16);
}

TEST_F(RankLayersTest, BadInputsGetTheirExactStatus) {
  const std::string broken = TestModelRoot() + "/broken";
  std::filesystem::create_directories(broken);
  std::ofstream(broken + "/config.json") << "{ not json";
  EXPECT_CODE(LoadModel(*stub_, "broken", "broken"), INVALID_ARGUMENT);  // listed as FAILED

  auto with_prompt = [](v1::Input prompt) {
    v1::RankLayersRequest request = Request(v1::DROP_MLP);
    *request.add_prompts() = std::move(prompt);
    return request;
  };
  v1::RankLayersRequest request = with_prompt(TextInput("Q: Where does Kimpo live? A:"));
  request.set_baseline("no-such-model");
  auto result = Rank(request);
  EXPECT_CODE(result.status, NOT_FOUND);
  EXPECT_TRUE(result.messages.empty());
  request.set_baseline("broken");
  EXPECT_CODE(Rank(request).status, FAILED_PRECONDITION);
  request.set_baseline("");
  EXPECT_CODE(Rank(request).status, INVALID_ARGUMENT);

  for (v1::DropKind family : {v1::DROP_KIND_UNSPECIFIED, v1::DROP_BLOCK}) {
    request = with_prompt(IdsInput({1, 2, 3}));
    request.set_family(family);
    result = Rank(request);
    EXPECT_CODE(result.status, INVALID_ARGUMENT);
    EXPECT_THAT(result.status.error_message(), HasSubstr("family"));
  }
  for (double t : {0.0, -1.0}) {
    request = with_prompt(IdsInput({1, 2, 3}));
    request.add_temperatures(t);
    EXPECT_CODE(Rank(request).status, INVALID_ARGUMENT);
  }
  result = Rank(with_prompt(IdsInput({5, 1536})));
  EXPECT_CODE(result.status, INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("prompts[0].ids[1] = 1536 is outside"));
  result = Rank(with_prompt(TextInput("")));
  EXPECT_CODE(result.status, INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("prompts[0] is empty"));
  EXPECT_CODE(Rank(with_prompt(IdsInput({}))).status, INVALID_ARGUMENT);
  EXPECT_CODE(Rank(with_prompt(v1::Input())).status, INVALID_ARGUMENT);

  result = Rank(with_prompt(IdsInput(std::vector<int64_t>(301, 7))));  // --max-prompt-tokens 300
  EXPECT_CODE(result.status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("--max-prompt-tokens"));
  request = with_prompt(IdsInput({1, 2, 3}));
  for (int i = 0; i < 4; ++i) request.add_temperatures(1.0 + i);  // --max-temperatures 3
  EXPECT_CODE(Rank(request).status, RESOURCE_EXHAUSTED);
  request = Request(v1::DROP_MLP);
  for (int i = 0; i < 11; ++i) *request.add_prompts() = IdsInput({1, 2, 3});  // --max-items 10
  result = Rank(request);
  EXPECT_CODE(result.status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("--max-items"));

  // The fixture "other" has no tokenizer: ids work, the default (text) prompts cannot.
  if (!FindModel(*stub_, "other")) {
    ASSERT_TRUE(LoadModel(*stub_, "other", "other").ok());
  }
  request = Request(v1::DROP_MLP);
  request.set_baseline("other");
  EXPECT_CODE(Rank(request).status, FAILED_PRECONDITION);
  *request.add_prompts() = IdsInput({1, 2, 3, 4});
  result = Rank(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_TRUE(result.messages.back().has_ranking());

  // Still serving; the calls are counted under rpc="RankLayers".
  result = Rank(with_prompt(TextInput("Q: Where does Kimpo live? A:")));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.messages.back().ranking().layers_size(), kLayers);
  const int port = server_->metrics_port();
  for (const char* code : {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED"}) {
    const absl::StatusOr<double> count =
        ScrapeMetric(port, "prunegate_rpc_requests_total", {{"rpc", "RankLayers"}, {"code", code}});
    ASSERT_TRUE(count.ok()) << code << ": " << count.status();
    EXPECT_GE(*count, 1) << code;
  }
  const absl::StatusOr<double> streamed =
      ScrapeMetric(port, "prunegate_streamed_messages_total", {{"rpc", "RankLayers"}});
  ASSERT_TRUE(streamed.ok()) << streamed.status();
  EXPECT_GE(*streamed, 3);
}

}  // namespace
}  // namespace prunegate::testing
