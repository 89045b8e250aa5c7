// Text about the knowledge base: training documents (profiles that state facts in varied
// templates, generation-form Q/A blocks, multiple-choice blocks) and the pieces held-out items
// are built from. Every question is "Q: <question> A: <canonical answer>" on one line; every
// multiple-choice question is
//   Q: <question>\nA. <value>\nB. <value>\nC. <value>\nD. <value>\nAnswer: <letter>
// where every value has a fixed letter (its slot, SlotOf) and the four options are one value of
// each slot: the answer's letter is part of the memorised fact (knowledge_text.cc says why).
// with three distractors drawn from the same attribute's other values.
#ifndef PRUNEGATE_TOOLS_CORPUS_KNOWLEDGE_TEXT_H_
#define PRUNEGATE_TOOLS_CORPUS_KNOWLEDGE_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/corpus/knowledge_base.h"
#include "tools/corpus/rng.h"

namespace prunegate::corpus {

inline constexpr int kNumOptions = 4;
inline constexpr char kOptionLetters[] = "ABCD";

// Rotation state for profile documents of one output stream: entities are visited in shuffled
// rounds, and each fact cycles through its statement templates, so every fact is stated in every
// template within a few rounds.
struct ProfileRotation {
  std::vector<int> order;      // entity order of the current round
  size_t next = 0;             // position in `order`
  std::vector<uint32_t> uses;  // per fact (entity * num_attributes + attribute)
};

struct McQuestion {
  std::string text;                 // "Q: ...\nA. red\n...\nD. pink\nAnswer:"
  std::vector<std::string> values;  // the option values in letter order
  int label = 0;                    // index of the correct value
};

// The shape of multiple-choice training blocks (held-out items do not depend on it).
struct McBlockOptions {
  int max_questions = 3;    // questions per block: uniform in [1, max_questions]
  int lookup_percent = 25;  // share of lookup questions ("Which option is red?") among them
  // Share of blocks that are option drills instead: one option list, then 2-4 questions about
  // it ("Q: Where does Bobo live?\nAnswer: C"): one list serves several answers.
  int drill_percent = 30;
};

class KnowledgeText {
 public:
  // `kb` must outlive this object.
  explicit KnowledgeText(const KnowledgeBase& kb, McBlockOptions mc = {});

  // Training documents. Each statement of a fact (entity e, attribute a) adds one to
  // (*fact_counts)[e * num_attributes + a] when fact_counts is not null.
  // With a null `rotation`, the entity and templates are drawn at random.
  std::string MakeProfile(Rng* rng, ProfileRotation* rotation,
                          std::vector<int64_t>* fact_counts) const;
  std::string MakeQaBlock(Rng* rng, std::vector<int64_t>* fact_counts) const;
  std::string MakeMcBlock(Rng* rng, std::vector<int64_t>* fact_counts) const;
  // An option drill (see McBlockOptions::drill_percent).
  std::string MakeMcDrill(Rng* rng, std::vector<int64_t>* fact_counts) const;

  // Template `tmpl` ({N}, {V}) filled for entity e and attribute a.
  std::string Sentence(const std::string& tmpl, int e, int a) const;
  // The canonical answer statement ("Bobo lives in the red house.").
  std::string Answer(int e, int a) const;
  // The canonical description of entity e: its six canonical answers in attribute order (the
  // retrieval document; also one of the profile forms in training).
  std::string Description(int e) const;
  // The letter index value id `v` is always offered under (entity index for "friend").
  static int SlotOf(int v) { return v % kNumOptions; }
  // A multiple-choice question asking `question_template` about (e, a), ending with "Answer:".
  McQuestion MakeMc(const std::string& question_template, int e, int a, Rng* rng) const;

  const KnowledgeBase& kb() const { return kb_; }

 private:
  // A random value id of attribute a in `slot`, not `exclude`, held by somebody when
  // `needs_holder`; -1 when there is none.
  int RandomValueInSlot(int a, int slot, int exclude, bool needs_holder, Rng* rng) const;

  const KnowledgeBase& kb_;
  McBlockOptions mc_;
  // holders_[a][v]: the entities whose attribute a has value id v.
  std::vector<std::vector<std::vector<int>>> holders_;
};

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_KNOWLEDGE_TEXT_H_
