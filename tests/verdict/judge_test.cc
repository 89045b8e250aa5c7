// Judge on hand-made evidence: every rule at SAFE, RISKY and UNSAFE, which rule fires, the reason
// line, and that the same logit perturbation is judged more strictly at a lower temperature.
#include <functional>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/probe/stats.h"
#include "server/verdict/verdict.h"
#include "torch/torch.h"

namespace prunegate::verdict {
namespace {

GenerationEvidence CleanGeneration() {
  GenerationEvidence e;
  e.temperature = 1.0;
  e.prompts = 20;
  e.max_steps = 24;
  e.mean_first_divergence = 24;
  e.shared_steps = 480;
  e.steps = 480;
  e.token_agreement = 1;
  return e;
}

ChoiceEvidence CleanChoice() {
  ChoiceEvidence e;
  e.items = 20;
  e.labelled = 20;
  e.accuracy_a = e.accuracy_b = 0.8;
  e.argmax_agreeing = 20;
  e.argmax_agreement = 1;
  return e;
}

RetrievalEvidence CleanRetrieval() {
  RetrievalEvidence e;
  e.sets = 2;
  e.queries = 20;
  e.texts = 40;
  e.top_k = 3;
  e.recall_at_1_a = e.recall_at_1_b = 0.9;
  e.mean_cosine = 1;
  e.mean_topk_overlap = 1;
  e.mean_kendall_tau = 1;
  return e;
}

// One rule: how to give the clean evidence the value `v` on it, and judge it.
struct RuleCase {
  std::string rule;
  Thresholds thresholds;
  std::function<TemperatureVerdict(const Policy&, double)> judge_with;
};

// Judges `clean()` with one field set to the value under test by `set`.
template <typename Evidence>
std::function<TemperatureVerdict(const Policy&, double)> With(
    Evidence (*clean)(), std::function<void(Evidence&, double)> set) {
  return [clean, set](const Policy& policy, double v) {
    Evidence e = clean();
    set(e, v);
    return Judge(policy, e);
  };
}

std::vector<RuleCase> AllRules(const Policy& p) {
  using G = GenerationEvidence;
  using C = ChoiceEvidence;
  using R = RetrievalEvidence;
  auto gen = [](std::function<void(G&, double)> set) { return With<G>(CleanGeneration, set); };
  auto mc = [](std::function<void(C&, double)> set) { return With<C>(CleanChoice, set); };
  auto ret = [](std::function<void(R&, double)> set) { return With<R>(CleanRetrieval, set); };
  const GenerationPolicy& g = p.generation;
  const MultipleChoicePolicy& m = p.multiple_choice;
  const RetrievalPolicy& r = p.retrieval;
  return {
      {"generation.divergence_rate", g.divergence_rate,
       gen([](GenerationEvidence& e, double v) { e.divergence_rate = v; })},
      {"generation.early_divergence", g.early_divergence,
       gen([](GenerationEvidence& e, double v) { e.early_divergence = v; })},
      {"generation.mean_kl", g.mean_kl, gen([](GenerationEvidence& e, double v) { e.mean_kl = v; })},
      {"generation.kl_pred", g.kl_pred, gen([](GenerationEvidence& e, double v) { e.kl_pred = v; })},
      {"multiple_choice.accuracy_drop", m.accuracy_drop,
       mc([](ChoiceEvidence& e, double v) { e.accuracy_b = e.accuracy_a - v; })},
      {"multiple_choice.argmax_disagreement", m.argmax_disagreement,
       mc([](ChoiceEvidence& e, double v) { e.argmax_agreement = 1 - v; })},
      {"multiple_choice.mean_kl", m.mean_kl, mc([](ChoiceEvidence& e, double v) { e.mean_kl = v; })},
      {"retrieval.recall_drop", r.recall_drop,
       ret([](RetrievalEvidence& e, double v) { e.recall_at_1_b = e.recall_at_1_a - v; })},
      {"retrieval.cosine_loss", r.cosine_loss,
       ret([](RetrievalEvidence& e, double v) { e.mean_cosine = 1 - v; })},
      {"retrieval.topk_loss", r.topk_loss,
       ret([](RetrievalEvidence& e, double v) { e.mean_topk_overlap = 1 - v; })},
  };
}

TEST(JudgeTest, LevelOfIsStrictlyAboveEachThreshold) {
  const Thresholds t{0.1, 0.3};
  EXPECT_EQ(LevelOf(0, t), Level::kSafe);
  EXPECT_EQ(LevelOf(0.1, t), Level::kSafe);
  EXPECT_EQ(LevelOf(0.1000001, t), Level::kRisky);
  EXPECT_EQ(LevelOf(0.3, t), Level::kRisky);
  EXPECT_EQ(LevelOf(0.31, t), Level::kUnsafe);
}

TEST(JudgeTest, CleanEvidenceIsSafe) {
  const Policy p = DefaultPolicy();
  for (const TemperatureVerdict& v :
       {Judge(p, CleanGeneration()), Judge(p, CleanChoice()), Judge(p, CleanRetrieval())}) {
    EXPECT_EQ(v.level, Level::kSafe);
    EXPECT_EQ(v.rule, "");
    EXPECT_EQ(v.reason, "SAFE: every check within its risky threshold at T=1");
    for (const Check& c : v.checks) EXPECT_EQ(c.level, Level::kSafe) << c.rule;
  }
  EXPECT_EQ(Judge(p, CleanGeneration()).checks.size(), 4u);
  EXPECT_EQ(Judge(p, CleanChoice()).checks.size(), 3u);
  EXPECT_EQ(Judge(p, CleanRetrieval()).checks.size(), 3u);
}

TEST(JudgeTest, EveryRuleReachesRiskyAndUnsafe) {
  const Policy p = DefaultPolicy();
  for (const RuleCase& c : AllRules(p)) {
    SCOPED_TRACE(c.rule);
    const double mid = (c.thresholds.risky + c.thresholds.unsafe) / 2;
    const TemperatureVerdict risky = c.judge_with(p, mid);
    EXPECT_EQ(risky.level, Level::kRisky);
    EXPECT_EQ(risky.rule, c.rule);
    EXPECT_EQ(risky.reason.rfind("RISKY: " + c.rule + " ", 0), 0u) << risky.reason;
    const TemperatureVerdict unsafe = c.judge_with(p, c.thresholds.unsafe * 1.5 + 0.01);
    EXPECT_EQ(unsafe.level, Level::kUnsafe);
    EXPECT_EQ(unsafe.rule, c.rule);
    const TemperatureVerdict safe = c.judge_with(p, c.thresholds.risky / 2);
    EXPECT_EQ(safe.level, Level::kSafe);
    // The check carries the thresholds it was held against.
    bool found = false;
    for (const Check& k : unsafe.checks) {
      if (k.rule != c.rule) continue;
      found = true;
      EXPECT_EQ(k.risky, c.thresholds.risky);
      EXPECT_EQ(k.unsafe, c.thresholds.unsafe);
      EXPECT_EQ(k.level, Level::kUnsafe);
      EXPECT_FALSE(k.metric_description.empty());
    }
    EXPECT_TRUE(found);
  }
}

TEST(JudgeTest, ThresholdsComeFromThePolicy) {
  Policy strict = DefaultPolicy();
  strict.generation.mean_kl = {0.001, 0.002};
  GenerationEvidence e = CleanGeneration();
  e.mean_kl = 0.01;
  EXPECT_EQ(Judge(DefaultPolicy(), e).level, Level::kSafe);
  EXPECT_EQ(Judge(strict, e).level, Level::kUnsafe);
  EXPECT_EQ(Judge(strict, e).rule, "generation.mean_kl");
}

TEST(JudgeTest, ReasonLine) {
  GenerationEvidence e = CleanGeneration();
  e.temperature = 0.2;
  e.prompts = 50;
  e.diverged = 31;
  e.divergence_rate = 0.62;
  const TemperatureVerdict v = Judge(DefaultPolicy(), e);
  EXPECT_EQ(v.reason,
            "UNSAFE: generation.divergence_rate 0.62 > 0.30 at T=0.2 (31 of 50 prompts diverged "
            "within 24 steps)");
  GenerationEvidence small = CleanGeneration();
  small.kl_pred = 0.074;
  EXPECT_EQ(Judge(DefaultPolicy(), small).reason,
            "RISKY: generation.kl_pred 0.07 > 0.05 at T=1 (mean Var_p(delta)/(2T^2) at T=1 over "
            "480 steps up to the first divergence)");
}

TEST(JudgeTest, TheFirstRuleAtTheWorstLevelFires) {
  const Policy p = DefaultPolicy();
  GenerationEvidence e = CleanGeneration();
  e.divergence_rate = 0.9;
  e.early_divergence = 0.9;
  e.mean_kl = 5;
  e.kl_pred = 5;
  EXPECT_EQ(Judge(p, e).rule, "generation.divergence_rate");
  e.divergence_rate = 0.2;  // RISKY only: the worst level wins over the order
  EXPECT_EQ(Judge(p, e).rule, "generation.early_divergence");
  e.early_divergence = 0;
  EXPECT_EQ(Judge(p, e).rule, "generation.mean_kl");
  e.mean_kl = 0.05;
  EXPECT_EQ(Judge(p, e).rule, "generation.kl_pred");
  e.kl_pred = 0.05;  // everything RISKY now: back to the first
  EXPECT_EQ(Judge(p, e).level, Level::kRisky);
  EXPECT_EQ(Judge(p, e).rule, "generation.divergence_rate");

  ChoiceEvidence c = CleanChoice();
  c.accuracy_b = 0.5;
  c.argmax_agreement = 0.5;
  c.mean_kl = 3;
  EXPECT_EQ(Judge(p, c).rule, "multiple_choice.accuracy_drop");
  c.labelled = 0;  // no labels: the accuracy rule is skipped
  EXPECT_EQ(Judge(p, c).checks.size(), 2u);
  EXPECT_EQ(Judge(p, c).rule, "multiple_choice.argmax_disagreement");

  RetrievalEvidence r = CleanRetrieval();
  r.mean_cosine = 0.5;
  r.mean_topk_overlap = 0.2;
  EXPECT_EQ(Judge(p, r).rule, "retrieval.cosine_loss");
  r.recall_at_1_b = 0.1;
  EXPECT_EQ(Judge(p, r).rule, "retrieval.recall_drop");
}

TEST(JudgeTest, SummarizeGenerationPoolsSteps) {
  PromptOutcome never;
  never.steps = never.agreeing_steps = never.shared_steps = 24;
  never.kl_sum = 0.24;
  never.kl_pred_sum = 0.48;
  PromptOutcome early;
  early.first_divergence = 6;
  early.steps = 24;
  early.agreeing_steps = 10;
  early.shared_steps = 7;
  early.kl_sum = 0.7;
  early.kl_pred_sum = 0.7;
  const GenerationEvidence e = SummarizeGeneration(0.5, 24, {never, early});
  EXPECT_EQ(e.temperature, 0.5);
  EXPECT_EQ(e.prompts, 2);
  EXPECT_EQ(e.diverged, 1);
  EXPECT_DOUBLE_EQ(e.divergence_rate, 0.5);
  EXPECT_DOUBLE_EQ(e.mean_first_divergence, 15);
  EXPECT_DOUBLE_EQ(e.early_divergence, 1 - 15.0 / 24);
  EXPECT_EQ(e.shared_steps, 31);
  EXPECT_DOUBLE_EQ(e.mean_kl, 0.94 / 31);
  EXPECT_DOUBLE_EQ(e.kl_pred, 1.18 / 31);
  EXPECT_EQ(e.steps, 48);
  EXPECT_DOUBLE_EQ(e.token_agreement, 34.0 / 48);
  const GenerationEvidence none = SummarizeGeneration(1, 24, {});
  EXPECT_EQ(none.divergence_rate, 0);
  EXPECT_EQ(none.mean_kl, 0);
}

// The same logits z_a and perturbation δ, judged at T = 0.25 and T = 2 through the real
// statistics: KL grows as 1/T², so the fixed thresholds bite harder at the lower temperature.
TEST(JudgeTest, LowerTemperatureIsStricterForTheSamePerturbation) {
  torch::manual_seed(3);
  const at::Tensor za = torch::randn({1, 64});
  const at::Tensor delta = torch::randn({1, 64});
  const std::vector<double> temps = {0.25, 2.0};
  const Policy p = DefaultPolicy();
  int stricter = 0;
  for (double eps : {0.0, 0.01, 0.03, 0.1, 0.3, 1.0}) {
    SCOPED_TRACE(eps);
    probe::CompareOptions o;
    o.temperatures = temps;
    auto rows = probe::CompareLogits(za, za + eps * delta, o);
    ASSERT_TRUE(rows.ok()) << rows.status();
    auto sub = probe::CompareSubspace(za[0], (za + eps * delta)[0], {0, 1, 2, 3}, temps);
    ASSERT_TRUE(sub.ok()) << sub.status();
    Level gen[2], mc[2];
    for (int t = 0; t < 2; ++t) {
      GenerationEvidence g = CleanGeneration();
      g.temperature = temps[t];
      g.mean_kl = (*rows)[0].probs[t].kl;
      g.kl_pred = (*rows)[0].probs[t].kl_pred;
      gen[t] = Judge(p, g).level;
      ChoiceEvidence c = CleanChoice();
      c.temperature = temps[t];
      c.mean_kl = (*sub)[t].kl;
      mc[t] = Judge(p, c).level;
    }
    if (eps > 0) {
      EXPECT_GT((*rows)[0].probs[0].kl, (*rows)[0].probs[1].kl);
    }
    EXPECT_GE(gen[0], gen[1]);
    EXPECT_GE(mc[0], mc[1]);
    stricter += (gen[0] > gen[1]) + (mc[0] > mc[1]);
  }
  EXPECT_GE(stricter, 2);  // at least one perturbation is SAFE at T=2 but not at T=0.25
}

TEST(AssessmentTest, OverallIsTheWorstAndFormatsCarryEverything) {
  Assessment a;
  a.task = TaskType::kMultipleChoice;
  ChoiceEvidence cool = CleanChoice(), hot = CleanChoice();
  cool.temperature = 0.5;
  cool.mean_kl = 0.5;  // UNSAFE
  hot.temperature = 1.5;
  hot.mean_kl = 0.2;  // RISKY
  a.multiple_choice = {cool, hot};
  JudgeAll(DefaultPolicy(), &a);
  ASSERT_EQ(a.verdicts.size(), 2u);
  EXPECT_EQ(a.verdicts[0].level, Level::kUnsafe);
  EXPECT_EQ(a.verdicts[1].level, Level::kRisky);
  EXPECT_EQ(a.overall, Level::kUnsafe);

  const nlohmann::json doc = nlohmann::json::parse(AssessmentJson(a));
  EXPECT_EQ(doc.at("task"), "multiple-choice");
  EXPECT_EQ(doc.at("overall"), "UNSAFE");
  ASSERT_EQ(doc.at("verdicts").size(), 2u);
  const nlohmann::json& v0 = doc.at("verdicts")[0];
  EXPECT_EQ(v0.at("temperature"), 0.5);
  EXPECT_EQ(v0.at("level"), "UNSAFE");
  EXPECT_EQ(v0.at("rule"), "multiple_choice.mean_kl");
  EXPECT_EQ(v0.at("reason"), a.verdicts[0].reason);
  EXPECT_EQ(v0.at("checks").size(), 3u);
  EXPECT_EQ(v0.at("checks")[2].at("value"), 0.5);
  EXPECT_EQ(v0.at("checks")[2].at("level"), "UNSAFE");
  EXPECT_EQ(v0.at("evidence").at("mean_kl"), 0.5);
  EXPECT_EQ(v0.at("evidence").at("items"), 20);

  const std::string text = AssessmentText(a);
  EXPECT_NE(text.find("multiple-choice: UNSAFE"), std::string::npos) << text;
  EXPECT_NE(text.find(a.verdicts[0].reason), std::string::npos) << text;
  EXPECT_NE(text.find(a.verdicts[1].reason), std::string::npos) << text;
  EXPECT_NE(text.find("multiple_choice.argmax_disagreement"), std::string::npos) << text;
}

}  // namespace
}  // namespace prunegate::verdict
