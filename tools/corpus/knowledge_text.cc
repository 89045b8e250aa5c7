#include "tools/corpus/knowledge_text.h"

#include "tools/corpus/text_template.h"

namespace prunegate::corpus {
namespace {

int NumAttributes() { return static_cast<int>(Attributes().size()); }

void Count(int e, int a, std::vector<int64_t>* fact_counts) {
  if (fact_counts != nullptr) ++(*fact_counts)[static_cast<size_t>(e) * NumAttributes() + a];
}

// Lookup drills ("Which option is red?") teach the letter <-> option mapping on its own.
constexpr char kLookupQuestion[] = "Which option is {V}?";

}  // namespace

std::string KnowledgeText::Sentence(const std::string& tmpl, int e, int a) const {
  const Entity& entity = kb_.entities[e];
  return Fill(tmpl, {{'N', entity.name}, {'V', entity.values[a]}});
}

std::string KnowledgeText::Answer(int e, int a) const {
  return Sentence(Attributes()[a].answer, e, a);
}

std::string KnowledgeText::Description(int e) const {
  std::string out;
  for (int a = 0; a < NumAttributes(); ++a) {
    if (a > 0) out += " ";
    out += Answer(e, a);
  }
  return out;
}

std::string KnowledgeText::MakeProfile(Rng* rng, ProfileRotation* rotation,
                                       std::vector<int64_t>* fact_counts) const {
  const int num_entities = static_cast<int>(kb_.entities.size());
  int e;
  if (rotation == nullptr) {
    e = static_cast<int>(rng->Below(num_entities));
  } else {
    if (rotation->next >= rotation->order.size()) {
      rotation->order.resize(num_entities);
      for (int i = 0; i < num_entities; ++i) rotation->order[i] = i;
      rng->Shuffle(&rotation->order);
      rotation->next = 0;
      rotation->uses.resize(static_cast<size_t>(num_entities) * NumAttributes(), 0);
    }
    e = rotation->order[rotation->next++];
  }
  if (rng->Chance(1, 10)) {
    for (int a = 0; a < NumAttributes(); ++a) Count(e, a, fact_counts);
    return Description(e);
  }
  std::vector<int> order(NumAttributes());
  for (int a = 0; a < NumAttributes(); ++a) order[a] = a;
  rng->Shuffle(&order);
  const int k = rng->Range(3, NumAttributes());
  std::string out;
  if (rng->Chance(1, 4)) out = Fill("Let me tell you about {N}. ", {{'N', kb_.entities[e].name}});
  for (int i = 0; i < k; ++i) {
    const int a = order[i];
    const std::vector<std::string>& templates = Attributes()[a].statements;
    size_t t;
    if (rotation == nullptr) {
      t = rng->Below(templates.size());
    } else {
      const size_t fact = static_cast<size_t>(e) * NumAttributes() + a;
      t = (rotation->uses[fact]++ + fact) % templates.size();  // facts start at different ones
    }
    if (i > 0) out += " ";
    out += Sentence(templates[t], e, a);
    Count(e, a, fact_counts);
  }
  return out;
}

std::string KnowledgeText::MakeQaBlock(Rng* rng, std::vector<int64_t>* fact_counts) const {
  const int lines = rng->Range(3, 6);
  // Some blocks ask about one entity (each attribute at most once), the rest about a random
  // entity and attribute per line.
  const bool one_entity = rng->Chance(1, 3);
  const int fixed = static_cast<int>(rng->Below(kb_.entities.size()));
  std::vector<int> attributes(NumAttributes());
  for (int a = 0; a < NumAttributes(); ++a) attributes[a] = a;
  rng->Shuffle(&attributes);
  std::string out;
  for (int i = 0; i < lines; ++i) {
    const int e = one_entity ? fixed : static_cast<int>(rng->Below(kb_.entities.size()));
    const int a = one_entity ? attributes[i] : static_cast<int>(rng->Below(NumAttributes()));
    if (i > 0) out += "\n";
    out += "Q: ";
    out += Sentence(rng->Pick(Attributes()[a].train_questions), e, a);
    out += " A: ";
    out += Answer(e, a);
    Count(e, a, fact_counts);
  }
  return out;
}

McQuestion KnowledgeText::MakeMc(const std::string& question_template, int e, int a,
                                 Rng* rng) const {
  const std::vector<std::string>& values = kb_.Values(a);
  const int correct = kb_.entities[e].value_ids[a];
  const bool is_friend = Attributes()[a].values.empty();
  McQuestion q;
  q.label = static_cast<int>(rng->Below(kNumOptions));
  std::vector<int> chosen = {correct};
  while (static_cast<int>(chosen.size()) < kNumOptions) {
    const int v = static_cast<int>(rng->Below(values.size()));
    bool ok = !(is_friend && v == e);  // never offer the entity as its own friend
    for (int c : chosen) ok = ok && c != v;
    if (ok) chosen.push_back(v);
  }
  // chosen[0] is the answer; put it at the label and the distractors around it in draw order.
  q.values.resize(kNumOptions);
  q.values[q.label] = values[chosen[0]];
  for (int slot = 0, d = 1; slot < kNumOptions; ++slot) {
    if (slot != q.label) q.values[slot] = values[chosen[d++]];
  }
  // Each option line ends with its letter ("the hill farm D"): the answer letter is then the
  // token that follows the answer's text in the context, the copy pattern (induction) small
  // transformers learn first. With the letter in front ("D. the hill farm") a 4.6 M-parameter
  // model stayed at chance after 10 M tokens while it already wrote 97% of the answers.
  q.text = "Q: " + Sentence(question_template, e, a);
  for (int i = 0; i < kNumOptions; ++i) {
    q.text += "\n";
    q.text += q.values[i];
    q.text += " ";
    q.text += kOptionLetters[i];
  }
  q.text += "\nAnswer:";
  return q;
}

std::string KnowledgeText::MakeMcBlock(Rng* rng, std::vector<int64_t>* fact_counts) const {
  const int questions = rng->Range(1, 2);
  std::string out;
  for (int i = 0; i < questions; ++i) {
    const int e = static_cast<int>(rng->Below(kb_.entities.size()));
    const int a = static_cast<int>(rng->Below(NumAttributes()));
    McQuestion q;
    if (rng->Chance(1, 2)) {
      // Ask for the option that names a value: the same options, a lookup question.
      q = MakeMc(kLookupQuestion, e, a, rng);
    } else {
      q = MakeMc(rng->Pick(Attributes()[a].train_questions), e, a, rng);
      Count(e, a, fact_counts);
    }
    if (i > 0) out += "\n";
    out += q.text;
    out += " ";
    out += kOptionLetters[q.label];
  }
  return out;
}

}  // namespace prunegate::corpus
