#include "server/verdict/policy.h"

#include <cmath>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"

namespace prunegate::verdict {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(PolicyTest, NamesRoundTrip) {
  for (TaskType t : {TaskType::kGeneration, TaskType::kMultipleChoice, TaskType::kRetrieval}) {
    PG_ASSERT_OK_AND_ASSIGN(TaskType parsed, ParseTaskType(TaskTypeName(t)));
    EXPECT_EQ(parsed, t);
  }
  EXPECT_STREQ(TaskTypeName(TaskType::kMultipleChoice), "multiple-choice");
  EXPECT_EQ(ParseTaskType("multiple_choice").value(), TaskType::kMultipleChoice);
  EXPECT_EQ(ParseTaskType("mc").value(), TaskType::kMultipleChoice);
  EXPECT_THAT(ParseTaskType("summarization"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("summarization"), HasSubstr("generation"),
                             HasSubstr("multiple-choice"), HasSubstr("retrieval"))));
  EXPECT_STREQ(LevelName(Level::kSafe), "SAFE");
  EXPECT_STREQ(LevelName(Level::kRisky), "RISKY");
  EXPECT_STREQ(LevelName(Level::kUnsafe), "UNSAFE");
  EXPECT_LT(Level::kSafe, Level::kRisky);
  EXPECT_LT(Level::kRisky, Level::kUnsafe);
}

TEST(PolicyTest, DefaultsAreValidAndOrdered) {
  const Policy p = DefaultPolicy();
  EXPECT_THAT(ValidatePolicy(p), IsOk());
  EXPECT_EQ(p.generation.max_steps, 24);
  EXPECT_GT(p.generation.max_prompts, 0);
  EXPECT_NE(p.generation.seed, 0u);
  EXPECT_DOUBLE_EQ(p.generation.tolerance, 0.05);
  // Identical models give 0 on every rule: every default must leave 0 SAFE.
  for (const Thresholds& t :
       {p.generation.divergence_rate, p.generation.early_divergence, p.generation.mean_kl,
        p.generation.kl_pred, p.multiple_choice.accuracy_drop,
        p.multiple_choice.argmax_disagreement, p.multiple_choice.mean_kl,
        p.retrieval.recall_drop, p.retrieval.cosine_loss, p.retrieval.topk_loss}) {
    EXPECT_GT(t.risky, 0);
    EXPECT_LE(t.risky, t.unsafe);
  }
}

TEST(PolicyTest, EmptyJsonGivesTheDefaults) {
  for (const std::string json : {"", "  \n", "{}"}) {
    PG_ASSERT_OK_AND_ASSIGN(Policy p, ParsePolicyJson(json));
    EXPECT_EQ(PolicyToJson(p), PolicyToJson(DefaultPolicy())) << json;
  }
}

TEST(PolicyTest, PartialJsonOverridesOnlyItsKeys) {
  PG_ASSERT_OK_AND_ASSIGN(
      Policy p, ParsePolicyJson(R"({"generation":{"mean_kl":{"unsafe":0.5},"max_steps":8},
                                    "retrieval":{"topk_loss":{"risky":0.1,"unsafe":0.3}}})"));
  const Policy d = DefaultPolicy();
  EXPECT_EQ(p.generation.mean_kl.unsafe, 0.5);
  EXPECT_EQ(p.generation.mean_kl.risky, d.generation.mean_kl.risky);
  EXPECT_EQ(p.generation.max_steps, 8);
  EXPECT_EQ(p.generation.max_prompts, d.generation.max_prompts);
  EXPECT_EQ(p.retrieval.topk_loss.risky, 0.1);
  EXPECT_EQ(p.retrieval.topk_loss.unsafe, 0.3);
  EXPECT_EQ(p.multiple_choice.mean_kl.unsafe, d.multiple_choice.mean_kl.unsafe);
}

TEST(PolicyTest, RoundTripsEveryKey) {
  Policy p;
  p.generation.divergence_rate = {0.11, 0.33};
  p.generation.early_divergence = {0.01, 0.9};
  p.generation.mean_kl = {0.125, 0.75};
  p.generation.kl_pred = {0.3, 0.3};
  p.generation.tolerance = 0.07;
  p.generation.max_steps = 40;
  p.generation.max_prompts = 0;
  p.generation.seed = 18446744073709551615ull;
  p.generation.stop_at_newline = false;
  p.multiple_choice.accuracy_drop = {0.001, 0.002};
  p.multiple_choice.argmax_disagreement = {0.2, 0.4};
  p.multiple_choice.mean_kl = {1.5, 2.5};
  p.multiple_choice.tolerance = 0.1;
  p.retrieval.recall_drop = {0.03, 0.06};
  p.retrieval.cosine_loss = {0.004, 0.04};
  p.retrieval.topk_loss = {0.1, 0.2};
  p.retrieval.tolerance = 0;
  p.retrieval.top_k = 5;
  const std::string json = PolicyToJson(p);
  PG_ASSERT_OK_AND_ASSIGN(Policy back, ParsePolicyJson(json));
  EXPECT_EQ(PolicyToJson(back), json);
  EXPECT_EQ(back.generation.seed, p.generation.seed);
  EXPECT_EQ(back.generation.mean_kl.risky, 0.125);
  EXPECT_EQ(back.retrieval.cosine_loss.risky, 0.004);
  EXPECT_EQ(back.retrieval.top_k, 5);
  EXPECT_FALSE(back.generation.stop_at_newline);
  // Every section and rule is written out.
  const nlohmann::json doc = nlohmann::json::parse(json);
  EXPECT_EQ(doc.at("generation").size(), 9u);
  EXPECT_EQ(doc.at("multiple_choice").size(), 4u);
  EXPECT_EQ(doc.at("retrieval").size(), 5u);
  EXPECT_EQ(doc.at("multiple_choice").at("argmax_disagreement").at("unsafe"), 0.4);
}

struct BadCase {
  std::string json;
  std::string path;  // must appear in the message
};

TEST(PolicyTest, ErrorsNameTheJsonPath) {
  const std::vector<BadCase> cases = {
      {R"({"generation":{"mean_kl":{"unsafe":-1}}})", "generation.mean_kl.unsafe"},
      {R"({"generation":{"mean_kl":{"risky":0.5,"unsafe":0.2}}})", "generation.mean_kl.unsafe"},
      {R"({"generation":{"mean_kl":{"risky":0.5}}})", "generation.mean_kl.unsafe"},  // > default
      {R"({"generation":{"mean_kl":{"risky":"0.5"}}})", "generation.mean_kl.risky"},
      {R"({"generation":{"mean_kl":{"risk":0.5}}})", "generation.mean_kl.risk"},
      {R"({"generation":{"mean_kl":0.5}})", "generation.mean_kl"},
      {R"({"generation":{"mean_KL":{"risky":0.5}}})", "generation.mean_KL"},
      {R"({"generation":{"max_steps":2.5}})", "generation.max_steps"},
      {R"({"generation":{"max_steps":0}})", "generation.max_steps"},
      {R"({"generation":{"max_prompts":-3}})", "generation.max_prompts"},
      {R"({"generation":{"seed":-1}})", "generation.seed"},
      {R"({"generation":{"seed":"x"}})", "generation.seed"},
      {R"({"generation":{"tolerance":1.5}})", "generation.tolerance"},
      {R"({"generation":{"tolerance":true}})", "generation.tolerance"},
      {R"({"generation":{"stop_at_newline":1}})", "generation.stop_at_newline"},
      {R"({"generation":[]})", "generation"},
      {R"({"multiple_choice":{"accuracy_drop":{"risky":-0.1}}})",
       "multiple_choice.accuracy_drop.risky"},
      {R"({"multiple_choice":{"argmax_disagreement":{"risky":0.9,"unsafe":0.5}}})",
       "multiple_choice.argmax_disagreement.unsafe"},
      {R"({"retrieval":{"top_k":0}})", "retrieval.top_k"},
      {R"({"retrieval":{"cosine_loss":{"unsafe":null}}})", "retrieval.cosine_loss.unsafe"},
      {R"({"retrieval":{"recall":{}}})", "retrieval.recall"},
      {R"({"multiple-choice":{}})", "multiple-choice"},
  };
  for (const BadCase& c : cases) {
    EXPECT_THAT(ParsePolicyJson(c.json),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.path)))
        << c.json;
  }
  EXPECT_THAT(ParsePolicyJson("{\"generation\":"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePolicyJson("[1]"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("object")));
}

TEST(PolicyTest, ValidateCatchesPoliciesBuiltInCode) {
  Policy p;
  p.retrieval.topk_loss = {0.3, 0.1};
  EXPECT_THAT(ValidatePolicy(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("retrieval.topk_loss")));
  p = Policy();
  p.generation.kl_pred.unsafe = std::nan("");
  EXPECT_THAT(ValidatePolicy(p), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("generation.kl_pred.unsafe")));
}

}  // namespace
}  // namespace prunegate::verdict
