// AssessmentJson / AssessmentText: the machine- and human-readable forms of an Assessment.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "server/verdict/verdict.h"

namespace prunegate::verdict {
namespace {

using Json = nlohmann::ordered_json;

Json EvidenceJson(const GenerationEvidence& e) {
  return {{"temperature", e.temperature},
          {"prompts", e.prompts},
          {"max_steps", e.max_steps},
          {"diverged", e.diverged},
          {"divergence_rate", e.divergence_rate},
          {"mean_first_divergence", e.mean_first_divergence},
          {"early_divergence", e.early_divergence},
          {"shared_steps", e.shared_steps},
          {"mean_kl", e.mean_kl},
          {"kl_pred", e.kl_pred},
          {"steps", e.steps},
          {"token_agreement", e.token_agreement}};
}

Json EvidenceJson(const ChoiceEvidence& e) {
  return {{"temperature", e.temperature},
          {"items", e.items},
          {"labelled", e.labelled},
          {"accuracy_a", e.accuracy_a},
          {"accuracy_b", e.accuracy_b},
          {"argmax_agreeing", e.argmax_agreeing},
          {"argmax_agreement", e.argmax_agreement},
          {"mean_kl", e.mean_kl}};
}

Json EvidenceJson(const RetrievalEvidence& e) {
  return {{"temperature", e.temperature},
          {"sets", e.sets},
          {"queries", e.queries},
          {"texts", e.texts},
          {"top_k", e.top_k},
          {"recall_at_1_a", e.recall_at_1_a},
          {"recall_at_1_b", e.recall_at_1_b},
          {"mean_cosine", e.mean_cosine},
          {"mean_topk_overlap", e.mean_topk_overlap},
          {"mean_kendall_tau", e.mean_kendall_tau}};
}

// The evidence behind verdict `i` (null when the assessment lacks it).
Json EvidenceAt(const Assessment& a, size_t i) {
  switch (a.task) {
    case TaskType::kGeneration:
      if (i < a.generation.size()) return EvidenceJson(a.generation[i]);
      break;
    case TaskType::kMultipleChoice:
      if (i < a.multiple_choice.size()) return EvidenceJson(a.multiple_choice[i]);
      break;
    case TaskType::kRetrieval:
      if (i < a.retrieval.size()) return EvidenceJson(a.retrieval[i]);
      break;
  }
  return nullptr;
}

Json CheckJson(const Check& c) {
  return {{"rule", c.rule},         {"metric_description", c.metric_description},
          {"value", c.value},       {"risky", c.risky},
          {"unsafe", c.unsafe},     {"level", LevelName(c.level)}};
}

}  // namespace

std::string AssessmentJson(const Assessment& a) {
  Json verdicts = Json::array();
  for (size_t i = 0; i < a.verdicts.size(); ++i) {
    const TemperatureVerdict& v = a.verdicts[i];
    Json checks = Json::array();
    for (const Check& c : v.checks) checks.push_back(CheckJson(c));
    verdicts.push_back({{"temperature", v.temperature},
                        {"level", LevelName(v.level)},
                        {"rule", v.rule},
                        {"reason", v.reason},
                        {"checks", std::move(checks)},
                        {"evidence", EvidenceAt(a, i)}});
  }
  const Json doc = {{"task", TaskTypeName(a.task)},
                    {"overall", LevelName(a.overall)},
                    {"verdicts", std::move(verdicts)}};
  return doc.dump();
}

std::string AssessmentText(const Assessment& a) {
  std::string out = absl::StrFormat("%s: %s over %d temperature(s)\n", TaskTypeName(a.task),
                                    LevelName(a.overall), a.verdicts.size());
  for (const TemperatureVerdict& v : a.verdicts) {
    absl::StrAppendFormat(&out, "T=%g  %s\n", v.temperature, v.reason);
    for (const Check& c : v.checks) {
      absl::StrAppendFormat(&out, "  %-6s %-36s %10.4g  (risky > %g, unsafe > %g)  %s\n",
                            LevelName(c.level), c.rule, c.value, c.risky, c.unsafe,
                            c.metric_description);
    }
  }
  return out;
}

}  // namespace prunegate::verdict
