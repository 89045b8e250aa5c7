// The corpus's content: the held-out split (knowledge phrasings, story openings, retrieval
// queries and arithmetic templates and operand pairs never in training), every fact stated in
// several templates, every training answer and multiple-choice letter correct, and held-out
// multiple-choice labels that point at the fact.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/tasks/task_parser.h"
#include "tests/testing/status_matchers.h"
#include "tests/tools/corpus_fixture.h"
#include "tools/corpus/arithmetic.h"
#include "tools/corpus/held_out_tasks.h"
#include "tools/corpus/knowledge_base.h"
#include "tools/corpus/knowledge_text.h"
#include "tools/corpus/rng.h"
#include "tools/corpus/stories.h"
#include "tools/corpus/text_template.h"

namespace prunegate::corpus {
namespace {

using Json = nlohmann::json;

// The knowledge base's facts, asked with held-out templates, never appear as training questions
// or anywhere in the training text.
TEST_F(CorpusTest, HeldOutKnowledgePhrasingsNeverInTraining) {
  // Every "Q: <question>" of the training text.
  std::set<std::string> asked;
  for (size_t pos = train_->find("Q: "); pos != std::string::npos;
       pos = train_->find("Q: ", pos + 1)) {
    const size_t end = train_->find_first_of("?.\n", pos);
    asked.insert(train_->substr(pos + 3, end + 1 - pos - 3));
  }
  EXPECT_GT(asked.size(), 1000u);
  std::set<std::string> train_templates, held_out_templates;
  for (const AttributeSpec& spec : Attributes()) {
    train_templates.insert(spec.train_questions.begin(), spec.train_questions.end());
    held_out_templates.insert(spec.held_out_questions.begin(), spec.held_out_questions.end());
    for (const std::string& t : spec.held_out_questions) {
      for (const Entity& entity : kb_->entities) {
        ASSERT_EQ(asked.count(Fill(t, {{'N', entity.name}})), 0u) << t << " " << entity.name;
      }
    }
  }
  for (const std::string& t : held_out_templates) EXPECT_EQ(train_templates.count(t), 0u) << t;
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite gen,
                          tasks::ParseTaskFile(*dir_ + "/tasks/knowledge_gen.jsonl"));
  for (const tasks::GenerationItem& item : gen.generation) {
    const std::string question = item.prompt.substr(3, item.prompt.size() - 6);  // "Q: " .. " A:"
    ASSERT_EQ(train_->find(question), std::string::npos) << question;
  }
  for (const std::string& t : RetrievalQueryTemplates()) {
    for (const Entity& entity : kb_->entities) {
      const std::string query = Fill(t, {{'N', entity.name}});
      ASSERT_EQ(train_->find(query), std::string::npos) << query;
    }
  }
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite retrieval,
                          tasks::ParseTaskFile(*dir_ + "/tasks/retrieval.jsonl"));
  for (const auto& item : retrieval.retrieval) {
    for (const auto& query : item.queries) {
      ASSERT_EQ(train_->find(query.text.substr(3)), std::string::npos) << query.text;
    }
  }
}

TEST_F(CorpusTest, HeldOutStoryOpeningsNeverInTraining) {
  for (const std::string& t : HeldOutStoryOpenings()) {
    for (const StoryCharacter& c : StoryCharacters()) {
      const std::string opening = Fill(t, {{'X', c.name}, {'K', c.girl ? "girl" : "boy"}});
      ASSERT_EQ(train_->find(opening), std::string::npos) << opening;
    }
  }
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite stories,
                          tasks::ParseTaskFile(*dir_ + "/tasks/stories.jsonl"));
  ASSERT_EQ(stories.generation.size(), 50u);
  for (const auto& item : stories.generation) {
    EXPECT_EQ(item.scoring, tasks::Scoring::kBaselineAgreement);
    const std::string opening = item.prompt.substr(0, item.prompt.find('.') + 1);
    ASSERT_EQ(train_->find(opening), std::string::npos) << opening;
    ASSERT_TRUE(item.reference.has_value());
    EXPECT_EQ(item.reference->substr(0, 1), " ");
    EXPECT_GT(item.reference->size(), 100u);
  }
}

// Parses every "a + b = c" / "a - b = c" of the training text.
struct Equation {
  bool add;
  int a, b, c;
};
std::vector<Equation> TrainingEquations(const std::string& text) {
  std::vector<Equation> out;
  for (size_t pos = text.find(" = "); pos != std::string::npos; pos = text.find(" = ", pos + 1)) {
    // Walk back over "a op b".
    size_t i = pos;
    auto read_back = [&](size_t end) {
      size_t begin = end;
      while (begin > 0 && std::isdigit(static_cast<unsigned char>(text[begin - 1]))) --begin;
      return begin;
    };
    const size_t b_begin = read_back(i);
    if (b_begin == i || b_begin < 3 || text[b_begin - 1] != ' ' || text[b_begin - 3] != ' ') {
      continue;
    }
    const char op = text[b_begin - 2];
    const size_t a_end = b_begin - 3;
    const size_t a_begin = read_back(a_end);
    if (a_begin == a_end || (op != '+' && op != '-')) continue;
    size_t c_end = pos + 3;
    while (c_end < text.size() && std::isdigit(static_cast<unsigned char>(text[c_end]))) ++c_end;
    out.push_back({op == '+', std::stoi(text.substr(a_begin, a_end - a_begin)),
                   std::stoi(text.substr(b_begin, i - b_begin)),
                   std::stoi(text.substr(pos + 3, c_end - pos - 3))});
  }
  return out;
}

TEST_F(CorpusTest, HeldOutOperandPairsNeverInTraining) {
  const CorpusOptions o = SmallOptions();
  const Arithmetic arithmetic(DeriveSeed(kSeed, 2), o.max_operand, o.held_out_pair_permille);
  const std::vector<Equation> equations = TrainingEquations(*train_);
  EXPECT_GT(equations.size(), 10000u);
  std::set<std::tuple<bool, int, int>> seen;
  for (const Equation& e : equations) {
    ASSERT_EQ(e.c, e.add ? e.a + e.b : e.a - e.b) << e.a << (e.add ? "+" : "-") << e.b;
    ASSERT_FALSE(arithmetic.IsHeldOut({e.add, e.a, e.b})) << e.a << " " << e.b;
    seen.insert({e.add, e.add ? std::min(e.a, e.b) : e.a, e.add ? std::max(e.a, e.b) : e.b});
  }
  EXPECT_GT(seen.size(), 8000u);  // most of the ~14k training pairs occur in 6 MB
  // No held-out question template is used in training with any numbers: compare with every
  // digit run replaced by '#'.
  std::string shapes;
  shapes.reserve(train_->size());
  for (size_t i = 0; i < train_->size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>((*train_)[i]))) {
      if (shapes.empty() || shapes.back() != '#') shapes.push_back('#');
    } else {
      shapes.push_back((*train_)[i]);
    }
  }
  const ArithmeticTemplates& t = GetArithmeticTemplates();
  for (const auto* list : {&t.add_held_out, &t.sub_held_out}) {
    for (const std::string& tmpl : *list) {
      const std::string shape = "Q: " + Fill(tmpl, {{'A', "#"}, {'B', "#"}});
      EXPECT_EQ(shapes.find(shape), std::string::npos) << shape;
    }
  }
  for (const auto* list : {&t.add_train, &t.sub_train}) {
    for (const std::string& tmpl : *list) {
      const std::string shape = "Q: " + Fill(tmpl, {{'A', "#"}, {'B', "#"}});
      EXPECT_NE(shapes.find(shape), std::string::npos) << shape;  // the check can see templates
    }
  }
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite suite,
                          tasks::ParseTaskFile(*dir_ + "/tasks/arithmetic.jsonl"));
  ASSERT_EQ(suite.generation.size(), 200u);
  std::set<std::string> prompts;
  for (const tasks::GenerationItem& item : suite.generation) {
    const int a = std::stoi(item.info.meta.at("a")), b = std::stoi(item.info.meta.at("b"));
    const bool add = item.info.meta.at("op") == "add";
    EXPECT_TRUE(arithmetic.IsHeldOut({add, a, b}));
    EXPECT_EQ(seen.count({add, add ? std::min(a, b) : a, add ? std::max(a, b) : b}), 0u);
    EXPECT_EQ(*item.reference, " " + std::to_string(a) + (add ? " + " : " - ") + std::to_string(b) +
                                   " = " + std::to_string(add ? a + b : a - b) + ".");
    EXPECT_TRUE(prompts.insert(item.prompt).second) << "repeated " << item.prompt;
    // The question phrasing is a held-out template, never a training one.
    const std::string question = item.prompt.substr(3, item.prompt.size() - 6);
    EXPECT_EQ(train_->find(question), std::string::npos) << question;
  }
}

// Every fact is stated in training in at least three different templates.
TEST_F(CorpusTest, EveryFactStatedInSeveralTemplates) {
  std::set<std::string> sentences;
  for (const std::string& line : Lines(*train_)) {
    std::string rest = line;
    for (const char* prefix : {"Let me tell you about "}) {
      if (rest.rfind(prefix, 0) == 0) rest = rest.substr(rest.find(". ") + 2);
    }
    if (rest.rfind("Q: ", 0) == 0 && rest.find(" A: ") != std::string::npos) {
      sentences.insert(rest.substr(rest.find(" A: ") + 4));
      continue;
    }
    // Sentences end with ". " inside a profile line.
    size_t begin = 0;
    for (size_t pos = rest.find(". "); pos != std::string::npos; pos = rest.find(". ", begin)) {
      sentences.insert(rest.substr(begin, pos + 1 - begin));
      begin = pos + 2;
    }
    sentences.insert(rest.substr(begin));
  }
  EXPECT_GE(stats_->fact_statements_min, 5);
  int min_templates = 1000;
  for (size_t e = 0; e < kb_->entities.size(); ++e) {
    for (size_t a = 0; a < Attributes().size(); ++a) {
      int found = 0;
      for (const std::string& t : Attributes()[a].statements) {
        found += sentences.count(
            Fill(t, {{'N', kb_->entities[e].name}, {'V', kb_->entities[e].values[a]}}));
      }
      min_templates = std::min(min_templates, found);
      ASSERT_GE(found, 3) << kb_->entities[e].name << " " << Attributes()[a].name;
    }
  }
  std::cout << "every fact stated in >= " << min_templates
            << " templates; statements per fact: min " << stats_->fact_statements_min << ", mean "
            << stats_->fact_statements_mean << "\n";
}

// Checks one multiple-choice answer: four "A. <value>" ... "D. <value>" lines at `options_at`,
// the letter of `answer_line` pointing at the value the question asks for, and every value in
// its slot (SlotOf) for knowledge questions.
void CheckMcAnswer(const std::string& question, const std::vector<std::string>& lines,
                   size_t options_at, const std::string& answer_line,
                   const std::map<std::string, std::pair<int, int>>& questions,
                   const KnowledgeBase& kb, int* mc, int* lookups) {
  SCOPED_TRACE(question);
  ASSERT_LE(options_at + 4, lines.size());
  std::vector<std::string> values;
  for (int k = 0; k < 4; ++k) {
    const std::string& option = lines[options_at + k];
    ASSERT_EQ(option.substr(0, 3), std::string(1, "ABCD"[k]) + ". ") << option;
    values.push_back(option.substr(3));
  }
  ASSERT_EQ(answer_line.size(), 9u) << answer_line;
  ASSERT_EQ(answer_line.substr(0, 8), "Answer: ");
  const int label = answer_line[8] - 'A';
  ASSERT_TRUE(label >= 0 && label < 4);
  EXPECT_EQ(std::set<std::string>(values.begin(), values.end()).size(), 4u);
  if (question.rfind("Which option is ", 0) == 0) {
    EXPECT_EQ(question, "Which option is " + values[label] + "?");
    ++*lookups;
    return;
  }
  auto it = questions.find(question);
  ASSERT_NE(it, questions.end());
  const auto [e, a] = it->second;
  ASSERT_EQ(values[label], kb.entities[e].values[a]);
  const std::vector<std::string>& all = kb.Values(a);
  for (int k = 0; k < 4; ++k) {
    const auto at = std::find(all.begin(), all.end(), values[k]);
    ASSERT_NE(at, all.end()) << values[k];
    EXPECT_EQ(KnowledgeText::SlotOf(static_cast<int>(at - all.begin())), k) << values[k];
  }
  ++*mc;
}

// Every training Q/A answer and multiple-choice letter states the knowledge base's fact.
TEST_F(CorpusTest, TrainingAnswersMatchTheKnowledgeBase) {
  const auto questions = TrainQuestions();
  int qa = 0, mc = 0, lookups = 0, drill_answers = 0;
  const std::vector<std::string> lines = Lines(*train_);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.rfind("Q: ", 0) != 0) continue;
    const size_t answer_at = line.find(" A: ");
    if (answer_at != std::string::npos) {  // generation form (or arithmetic)
      auto it = questions.find(line.substr(3, answer_at - 3));
      if (it == questions.end()) continue;
      const auto [e, a] = it->second;
      ASSERT_EQ(line.substr(answer_at + 4),
                Fill(Attributes()[a].answer,
                     {{'N', kb_->entities[e].name}, {'V', kb_->entities[e].values[a]}}));
      ++qa;
      continue;
    }
    // Multiple choice, in either layout: "Q: ..." then four options then "Answer: X" (a
    // block), or four options followed by "Q: ..." / "Answer: X" pairs (a drill).
    if (i + 1 >= lines.size() || lines[i + 1].rfind("Answer: ", 0) != 0) {
      // A block's question: its options follow.
      ASSERT_LT(i + 5, lines.size()) << line;
      CheckMcAnswer(line.substr(3), lines, i + 1, lines[i + 5], questions, *kb_, &mc, &lookups);
      i += 5;
      continue;
    }
    // A drill's question: the options are the last four "A. " ... "D. " lines above.
    size_t j = i;
    while (j > 0 && lines[j - 1].rfind("A. ", 0) != 0) --j;
    ASSERT_GT(j, 0u) << line;
    CheckMcAnswer(line.substr(3), lines, j - 1, lines[i + 1], questions, *kb_, &mc, &lookups);
    ++drill_answers;
    ++i;
  }
  EXPECT_GT(drill_answers, 300);
  EXPECT_GT(qa, 5000);
  EXPECT_GT(mc, 3000);
  EXPECT_GT(lookups, 500);
}

TEST_F(CorpusTest, MultipleChoiceLabelsPointAtTheFact) {
  const Json kb = Json::parse(ReadText(*dir_ + "/kb.json"));
  std::map<std::string, Json> entities;
  for (const Json& e : kb["entities"]) entities[e["id"].get<std::string>()] = e;
  std::map<std::string, std::set<std::string>> values_of;
  for (const Json& a : kb["attributes"]) {
    for (const Json& v : a["values"]) values_of[a["name"]].insert(v.get<std::string>());
  }
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite mc,
                          tasks::ParseTaskFile(*dir_ + "/tasks/knowledge_mc.jsonl"));
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite gen,
                          tasks::ParseTaskFile(*dir_ + "/tasks/knowledge_gen.jsonl"));
  ASSERT_EQ(mc.multiple_choice.size(), gen.generation.size());
  std::vector<int> label_counts(4, 0);
  std::map<std::string, int> per_attribute;
  for (size_t i = 0; i < mc.multiple_choice.size(); ++i) {
    const tasks::MultipleChoiceItem& item = mc.multiple_choice[i];
    SCOPED_TRACE(item.info.id);
    EXPECT_EQ(item.options, (std::vector<std::string>{" A", " B", " C", " D"}));
    ASSERT_TRUE(item.label.has_value());
    ++label_counts[*item.label];
    const std::vector<std::string> lines = Lines(item.prompt);
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_EQ(lines[5], "Answer:");
    std::vector<std::string> values;
    for (int k = 0; k < 4; ++k) {
      ASSERT_EQ(lines[1 + k].substr(0, 3), std::string(1, "ABCD"[k]) + ". ");
      values.push_back(lines[1 + k].substr(3));
    }
    const std::string& attribute = item.info.meta.at("attribute");
    const Json& entity = entities.at(item.info.meta.at("entity"));
    ++per_attribute[attribute];
    // The label's option is the KB's value; the distractors are other values of the attribute.
    EXPECT_EQ(values[*item.label], entity[attribute].get<std::string>());
    // Every option sits in its value's slot (the letter is part of the memorised fact).
    const std::vector<std::string>& all = kb_->Values(AttributeIndex(attribute));
    for (int k = 0; k < 4; ++k) {
      const auto at = std::find(all.begin(), all.end(), values[k]);
      ASSERT_NE(at, all.end()) << values[k];
      EXPECT_EQ(KnowledgeText::SlotOf(static_cast<int>(at - all.begin())), k) << values[k];
    }
    EXPECT_EQ(std::set<std::string>(values.begin(), values.end()).size(), 4u);
    for (const std::string& v : values) {
      EXPECT_EQ(values_of[attribute].count(v), 1u) << v;
      EXPECT_NE(v, entity["name"].get<std::string>());  // nobody is their own friend
    }
    // The same question in generation form, answered by the canonical statement.
    const tasks::GenerationItem& g = gen.generation[i];
    EXPECT_EQ(item.info.meta.at("generation_id"), g.info.id);
    EXPECT_EQ(lines[0] + " A:", g.prompt);
    const int a = AttributeIndex(attribute);
    ASSERT_GE(a, 0);
    EXPECT_EQ(*g.reference,
              " " + Fill(Attributes()[a].answer, {{'N', entity["name"].get<std::string>()},
                                                  {'V', entity[attribute].get<std::string>()}}));
  }
  for (int c : label_counts) EXPECT_GT(c, 40);                     // letters are balanced
  for (const auto& [a, n] : per_attribute) EXPECT_EQ(n, 50) << a;  // attributes stratified
}

}  // namespace
}  // namespace prunegate::corpus
