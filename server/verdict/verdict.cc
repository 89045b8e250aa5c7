#include "server/verdict/verdict.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace prunegate::verdict {
namespace {

// Two decimals for ordinary magnitudes ("0.62", "0.30"), two significant digits for small ones
// ("0.0034") so that a reason never reads "0.00 > 0.00".
std::string Num(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 0.01 && a < 1e4) return absl::StrFormat("%.2f", v);
  return absl::StrFormat("%.2g", v);
}

Check MakeCheck(const std::string& rule, std::string description, double value,
                const Thresholds& t) {
  return Check{rule, std::move(description), value, t.risky, t.unsafe, LevelOf(value, t)};
}

TemperatureVerdict Decide(double temperature, std::vector<Check> checks) {
  TemperatureVerdict v;
  v.temperature = temperature;
  const Check* fired = nullptr;
  for (const Check& c : checks) {
    if (c.level > v.level) {
      v.level = c.level;
      fired = &c;
    }
  }
  const std::string at = absl::StrFormat("at T=%g", temperature);
  if (fired == nullptr) {
    v.reason = absl::StrCat("SAFE: every check within its risky threshold ", at);
  } else {
    v.rule = fired->rule;
    const double threshold = fired->level == Level::kUnsafe ? fired->unsafe : fired->risky;
    v.reason = absl::StrCat(LevelName(fired->level), ": ", fired->rule, " ", Num(fired->value),
                            " > ", Num(threshold), " ", at, " (", fired->metric_description, ")");
  }
  v.checks = std::move(checks);
  return v;
}

}  // namespace

Level LevelOf(double value, const Thresholds& thresholds) {
  if (value > thresholds.unsafe) return Level::kUnsafe;
  if (value > thresholds.risky) return Level::kRisky;
  return Level::kSafe;
}

TemperatureVerdict Judge(const Policy& policy, const GenerationEvidence& e) {
  const GenerationPolicy& p = policy.generation;
  const std::string t = absl::StrFormat("%g", e.temperature);
  std::vector<Check> checks;
  checks.push_back(MakeCheck("generation.divergence_rate",
                             absl::StrCat(e.diverged, " of ", e.prompts,
                                          " prompts diverged within ", e.max_steps, " steps"),
                             e.divergence_rate, p.divergence_rate));
  checks.push_back(MakeCheck(
      "generation.early_divergence",
      absl::StrFormat("first divergence at step %.1f of %d on average (%d when none)",
                      e.mean_first_divergence, e.max_steps, e.max_steps),
      e.early_divergence, p.early_divergence));
  checks.push_back(MakeCheck(
      "generation.mean_kl",
      absl::StrCat("mean KL(baseline||candidate) at T=", t, " over ", e.shared_steps,
                   " steps up to the first divergence"),
      e.mean_kl, p.mean_kl));
  checks.push_back(MakeCheck("generation.kl_pred",
                             absl::StrCat("mean Var_p(delta)/(2T^2) at T=", t, " over ",
                                          e.shared_steps, " steps up to the first divergence"),
                             e.kl_pred, p.kl_pred));
  return Decide(e.temperature, std::move(checks));
}

TemperatureVerdict Judge(const Policy& policy, const ChoiceEvidence& e) {
  const MultipleChoicePolicy& p = policy.multiple_choice;
  std::vector<Check> checks;
  if (e.labelled > 0) {
    checks.push_back(MakeCheck("multiple_choice.accuracy_drop",
                               absl::StrCat("accuracy ", Num(e.accuracy_a), " -> ",
                                            Num(e.accuracy_b), " on ", e.labelled,
                                            " labelled items"),
                               e.accuracy_a - e.accuracy_b, p.accuracy_drop));
  }
  checks.push_back(MakeCheck("multiple_choice.argmax_disagreement",
                             absl::StrCat(e.items - e.argmax_agreeing, " of ", e.items,
                                          " items changed their argmax option"),
                             1.0 - e.argmax_agreement, p.argmax_disagreement));
  checks.push_back(MakeCheck("multiple_choice.mean_kl",
                             absl::StrFormat("mean option-subspace KL at T=%g over %d items",
                                             e.temperature, e.items),
                             e.mean_kl, p.mean_kl));
  return Decide(e.temperature, std::move(checks));
}

TemperatureVerdict Judge(const Policy& policy, const RetrievalEvidence& e) {
  const RetrievalPolicy& p = policy.retrieval;
  std::vector<Check> checks;
  checks.push_back(MakeCheck("retrieval.recall_drop",
                             absl::StrCat("recall@1 ", Num(e.recall_at_1_a), " -> ",
                                          Num(e.recall_at_1_b), " over ", e.queries, " queries"),
                             e.recall_at_1_a - e.recall_at_1_b, p.recall_drop));
  checks.push_back(MakeCheck(
      "retrieval.cosine_loss",
      absl::StrCat("1 - mean cosine of pooled embeddings over ", e.texts, " texts"),
      1.0 - e.mean_cosine, p.cosine_loss));
  checks.push_back(MakeCheck("retrieval.topk_loss",
                             absl::StrCat("1 - mean top-", e.top_k,
                                          " overlap of document rankings over ", e.queries,
                                          " queries"),
                             1.0 - e.mean_topk_overlap, p.topk_loss));
  return Decide(e.temperature, std::move(checks));
}

void JudgeAll(const Policy& policy, Assessment* assessment) {
  Assessment& a = *assessment;
  a.verdicts.clear();
  auto judge_each = [&](const auto& list) {
    for (const auto& e : list) a.verdicts.push_back(Judge(policy, e));
  };
  switch (a.task) {
    case TaskType::kGeneration:
      judge_each(a.generation);
      break;
    case TaskType::kMultipleChoice:
      judge_each(a.multiple_choice);
      break;
    case TaskType::kRetrieval:
      judge_each(a.retrieval);
      break;
  }
  a.overall = Level::kSafe;
  for (const TemperatureVerdict& v : a.verdicts) a.overall = std::max(a.overall, v.level);
}

}  // namespace prunegate::verdict
