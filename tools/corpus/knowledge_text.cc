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

// Options are "A. <value>" lines, the usual multiple-choice layout (MMLU's).
//
// Every value has a fixed letter, its slot: value id v of an attribute (entity index for
// "friend") is always offered as option kOptionLetters[v % 4], and a question's four options are
// one value of each slot. The answer's letter is then a property of the fact the model has
// memorised, as the answer text is in the generation form, instead of something it must bind in
// context: a 4.6 M-parameter model trained for hours on two CPU cores did not learn in-context
// letter binding (with random letters it stayed at chance after 17 M tokens, 32% of them
// multiple choice, and a 0.9 M model trained on nothing but lookup drills stayed at chance after
// 6 M tokens; models/tinykb/README.md). What multiple choice measures here is what the paper
// needs: the same memorised knowledge read out as one token among four candidates, against the
// generation form's whole sentence.
std::string OptionLines(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += "\n";
    out += kOptionLetters[i];
    out += ". ";
    out += values[i];
  }
  return out;
}

}  // namespace

KnowledgeText::KnowledgeText(const KnowledgeBase& kb, McBlockOptions mc) : kb_(kb), mc_(mc) {
  holders_.resize(NumAttributes());
  for (int a = 0; a < NumAttributes(); ++a) {
    holders_[a].resize(kb_.Values(a).size());
    for (size_t e = 0; e < kb_.entities.size(); ++e) {
      holders_[a][kb_.entities[e].value_ids[a]].push_back(static_cast<int>(e));
    }
  }
}

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

int KnowledgeText::RandomValueInSlot(int a, int slot, int exclude, bool needs_holder,
                                     Rng* rng) const {
  const int n = static_cast<int>(kb_.Values(a).size());
  std::vector<int> candidates;
  for (int v = slot; v < n; v += kNumOptions) {
    if (v != exclude && !(needs_holder && holders_[a][v].empty())) candidates.push_back(v);
  }
  if (candidates.empty()) return -1;
  return candidates[rng->Below(candidates.size())];
}

McQuestion KnowledgeText::MakeMc(const std::string& question_template, int e, int a,
                                 Rng* rng) const {
  const std::vector<std::string>& values = kb_.Values(a);
  const int correct = kb_.entities[e].value_ids[a];
  const bool is_friend = Attributes()[a].values.empty();
  McQuestion q;
  q.label = SlotOf(correct);
  q.values.resize(kNumOptions);
  for (int slot = 0; slot < kNumOptions; ++slot) {
    // Never offer the entity as its own friend.
    const int v = slot == q.label ? correct
                                  : RandomValueInSlot(a, slot, is_friend ? e : -1, false, rng);
    q.values[slot] = values[v];
  }
  q.text = "Q: " + Sentence(question_template, e, a) + "\n" + OptionLines(q.values) + "\nAnswer:";
  return q;
}

std::string KnowledgeText::MakeMcDrill(Rng* rng, std::vector<int64_t>* fact_counts) const {
  const int a = static_cast<int>(rng->Below(NumAttributes()));
  const std::vector<std::string>& values = kb_.Values(a);
  // One value per slot; for "friend", names of entities that are somebody's friend, so
  // knowledge questions can be asked about every option.
  std::vector<int> chosen;
  std::vector<std::string> shown;
  for (int slot = 0; slot < kNumOptions; ++slot) {
    const int v = RandomValueInSlot(a, slot, -1, true, rng);
    if (v < 0) return "";  // a tiny knowledge base; the caller falls back
    chosen.push_back(v);
    shown.push_back(values[v]);
  }
  std::string out = OptionLines(shown);
  const int questions = rng->Range(2, 4);
  for (int q = 0; q < questions; ++q) {
    const int slot = static_cast<int>(rng->Below(kNumOptions));
    const std::vector<int>& who = holders_[a][chosen[slot]];
    out += "\nQ: ";
    if (rng->Chance(mc_.lookup_percent, 100)) {
      out += Fill(kLookupQuestion, {{'V', values[chosen[slot]]}});
    } else {
      const int e = who[rng->Below(who.size())];
      out += Sentence(rng->Pick(Attributes()[a].train_questions), e, a);
      Count(e, a, fact_counts);
    }
    out += "\nAnswer: ";
    out += kOptionLetters[slot];
  }
  return out;
}

std::string KnowledgeText::MakeMcBlock(Rng* rng, std::vector<int64_t>* fact_counts) const {
  if (mc_.drill_percent > 0 && rng->Chance(mc_.drill_percent, 100)) {
    std::string drill = MakeMcDrill(rng, fact_counts);
    if (!drill.empty()) return drill;
  }
  const int questions = rng->Range(1, mc_.max_questions);
  std::string out;
  for (int i = 0; i < questions; ++i) {
    const int e = static_cast<int>(rng->Below(kb_.entities.size()));
    const int a = static_cast<int>(rng->Below(NumAttributes()));
    McQuestion q;
    if (rng->Chance(mc_.lookup_percent, 100)) {
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
