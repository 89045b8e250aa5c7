// The synthetic knowledge base: invented entities, each with one value per attribute (favourite
// colour, home, food, best friend, job, pet), and the sentence templates that state and ask
// those facts. Training text states every fact many times in varied templates; held-out task
// items ask the same facts with question templates the training text never uses.
#ifndef PRUNEGATE_TOOLS_CORPUS_KNOWLEDGE_BASE_H_
#define PRUNEGATE_TOOLS_CORPUS_KNOWLEDGE_BASE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace prunegate::corpus {

// Templates use {N} for the entity's name and {V} for the value.
struct AttributeSpec {
  std::string name;                             // "colour", "home", ...
  std::string answer;                           // canonical statement, the generation reference
  std::vector<std::string> statements;          // training prose (includes `answer`)
  std::vector<std::string> train_questions;     // asked in training Q/A and multiple choice
  std::vector<std::string> held_out_questions;  // asked only in the held-out task files
  std::vector<std::string> values;              // empty for "friend": values are entity names
};

// The attributes, in a fixed order (index = attribute id).
const std::vector<AttributeSpec>& Attributes();
int AttributeIndex(const std::string& name);  // -1 when unknown

struct Entity {
  std::string id;                   // "e000"
  std::string name;                 // "Bobo", "Tila Wren"
  std::vector<std::string> values;  // one per attribute; the friend's name for "friend"
  std::vector<int> value_ids;       // index into the attribute's value list (entity index
                                    // for "friend")
};

struct KnowledgeBase {
  uint64_t seed = 0;  // the corpus seed it was built from
  std::vector<Entity> entities;
  std::vector<std::string> names;  // entity names, by entity index

  // The possible values of attribute `a` (entity names for "friend").
  const std::vector<std::string>& Values(int a) const;
};

// `num_entities` entities (at most ~2000) with names from InventNames (never a story character's
// name) and uniformly drawn values; nobody is their own friend. `seed` is the corpus seed.
KnowledgeBase BuildKnowledgeBase(int num_entities, uint64_t seed);

// kb.json: {"format", "seed", "attributes": [{name, answer_template, statement_templates,
// train_question_templates, held_out_question_templates, values}], "entities": [{id, name,
// <attribute>: value, ...}]}.
std::string KnowledgeBaseJson(const KnowledgeBase& kb);

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_KNOWLEDGE_BASE_H_
