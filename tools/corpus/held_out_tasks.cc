#include "tools/corpus/held_out_tasks.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "tools/corpus/stories.h"
#include "tools/corpus/text_template.h"

namespace prunegate::corpus {
namespace {

constexpr int kKnowledgeMaxNewTokens = 32;
constexpr int kArithmeticMaxNewTokens = 24;
constexpr int kStoryMaxNewTokens = 48;

std::string Id(const char* format, int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, i);
  return buf;
}

tasks::ItemInfo Info(std::string id, const char* task) {
  tasks::ItemInfo info;
  info.id = std::move(id);
  info.task = task;
  return info;
}

void AddKnowledge(const KnowledgeText& text, int count, Rng* rng, HeldOutTasks* out) {
  const KnowledgeBase& kb = text.kb();
  const int num_attributes = static_cast<int>(Attributes().size());
  const int num_entities = static_cast<int>(kb.entities.size());
  count = std::min(count, num_attributes * num_entities);
  // Stratified: attribute i % 6; entities drawn without replacement per attribute.
  std::vector<std::vector<int>> order(num_attributes);
  for (int a = 0; a < num_attributes; ++a) {
    for (int e = 0; e < num_entities; ++e) order[a].push_back(e);
    rng->Shuffle(&order[a]);
  }
  for (int i = 0; i < count; ++i) {
    const int a = i % num_attributes;
    const int e = order[a][i / num_attributes];
    const AttributeSpec& spec = Attributes()[a];
    const int t = static_cast<int>(rng->Below(spec.held_out_questions.size()));
    const std::string& question = spec.held_out_questions[t];
    std::map<std::string, std::string> meta = {{"entity", kb.entities[e].id},
                                               {"name", kb.entities[e].name},
                                               {"attribute", spec.name},
                                               {"answer", kb.entities[e].values[a]},
                                               {"template", std::to_string(t)}};
    tasks::GenerationItem gen;
    gen.info = Info(Id("kg-%04d", i), "knowledge_gen");
    gen.info.meta = meta;
    gen.prompt = "Q: " + text.Sentence(question, e, a) + " A:";
    gen.reference = " " + text.Answer(e, a);
    gen.scoring = tasks::Scoring::kExactMatch;
    gen.max_new_tokens = kKnowledgeMaxNewTokens;
    out->knowledge_gen.generation.push_back(std::move(gen));

    const McQuestion q = text.MakeMc(question, e, a, rng);
    tasks::MultipleChoiceItem mc;
    mc.info = Info(Id("kmc-%04d", i), "knowledge_mc");
    mc.info.meta = meta;
    mc.info.meta["generation_id"] = Id("kg-%04d", i);
    mc.prompt = q.text;
    for (int k = 0; k < kNumOptions; ++k)
      mc.options.push_back(std::string(" ") + kOptionLetters[k]);
    mc.label = q.label;
    out->knowledge_mc.multiple_choice.push_back(std::move(mc));
  }
}

void AddArithmetic(const Arithmetic& arithmetic, int count, Rng* rng, HeldOutTasks* out) {
  int index = 0;
  for (bool add : {true, false}) {
    std::vector<ArithmeticProblem> problems = arithmetic.HeldOutProblems(add);
    rng->Shuffle(&problems);
    const int n = std::min<int>(add ? (count + 1) / 2 : count / 2, problems.size());
    for (int i = 0; i < n; ++i) {
      const Arithmetic::HeldOutItem h = arithmetic.MakeHeldOutItem(problems[i], rng);
      tasks::GenerationItem item;
      item.info = Info(Id("ar-%04d", index++), "arithmetic");
      item.info.meta = {{"op", add ? "add" : "sub"},
                        {"a", std::to_string(h.problem.a)},
                        {"b", std::to_string(h.problem.b)},
                        {"template", std::to_string(h.template_index)}};
      item.prompt = h.prompt;
      item.reference = h.reference;
      item.scoring = tasks::Scoring::kExactMatch;
      item.max_new_tokens = kArithmeticMaxNewTokens;
      out->arithmetic.generation.push_back(std::move(item));
    }
  }
}

void AddStories(int count, Rng* rng, HeldOutTasks* out) {
  for (int i = 0; i < count; ++i) {
    const HeldOutStory story = MakeHeldOutStory(rng);
    tasks::GenerationItem item;
    item.info = Info(Id("st-%03d", i), "stories");
    item.info.meta = {{"plot", story.plot},
                      {"opening_template", std::to_string(story.opening_template)}};
    item.prompt = story.prompt;
    item.reference = story.reference;
    item.scoring = tasks::Scoring::kBaselineAgreement;
    item.max_new_tokens = kStoryMaxNewTokens;
    out->stories.generation.push_back(std::move(item));
  }
}

void AddRetrieval(const KnowledgeText& text, int set_size, Rng* rng, HeldOutTasks* out) {
  const KnowledgeBase& kb = text.kb();
  std::vector<int> order;
  for (int e = 0; e < static_cast<int>(kb.entities.size()); ++e) order.push_back(e);
  rng->Shuffle(&order);
  const int sets = std::max<int>(1, static_cast<int>(order.size()) / std::max(set_size, 2));
  for (int s = 0; s < sets; ++s) {
    // Near-equal sets; the first (size % sets) sets get one extra document.
    const size_t begin = order.size() * s / sets, end = order.size() * (s + 1) / sets;
    tasks::RetrievalItem item;
    item.info = Info(Id("rt-%02d", s), "retrieval");
    for (size_t i = begin; i < end; ++i) {
      const Entity& entity = kb.entities[order[i]];
      item.documents.push_back({entity.id, text.Description(order[i])});
      const std::string& tmpl = rng->Pick(RetrievalQueryTemplates());
      item.queries.push_back(
          {"q-" + entity.id, "Q: " + Fill(tmpl, {{'N', entity.name}}), {entity.id}});
    }
    out->retrieval.retrieval.push_back(std::move(item));
  }
}

}  // namespace

const std::vector<std::string>& RetrievalQueryTemplates() {
  static const std::vector<std::string>* templates =
      new std::vector<std::string>{"Where does {N} live, and what does {N} do for work?",
                                   "What does {N} like to eat, and what pet does {N} have?",
                                   "Who is {N}'s best friend, and what is {N}'s favourite colour?",
                                   "What is {N}'s job, and what is the home of {N}?"};
  return *templates;
}

HeldOutTasks MakeHeldOutTasks(const KnowledgeText& text, const Arithmetic& arithmetic,
                              const HeldOutCounts& counts, uint64_t seed) {
  HeldOutTasks out;
  Rng knowledge_rng(DeriveSeed(seed, 1)), arithmetic_rng(DeriveSeed(seed, 2)),
      story_rng(DeriveSeed(seed, 3)), retrieval_rng(DeriveSeed(seed, 4));
  AddKnowledge(text, counts.knowledge, &knowledge_rng, &out);
  AddArithmetic(arithmetic, counts.arithmetic, &arithmetic_rng, &out);
  AddStories(counts.stories, &story_rng, &out);
  AddRetrieval(text, counts.retrieval_set_size, &retrieval_rng, &out);
  return out;
}

}  // namespace prunegate::corpus
