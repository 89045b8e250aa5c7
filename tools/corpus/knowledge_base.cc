#include "tools/corpus/knowledge_base.h"

#include <cstdio>
#include <set>

#include "nlohmann/json.hpp"
#include "tools/corpus/names.h"
#include "tools/corpus/rng.h"
#include "tools/corpus/stories.h"

namespace prunegate::corpus {
namespace {

std::vector<AttributeSpec> MakeAttributes() {
  std::vector<AttributeSpec> a(6);
  a[0].name = "colour";
  a[0].answer = "{N}'s favourite colour is {V}.";
  a[0].statements = {"{N}'s favourite colour is {V}.", "{N} loves the colour {V}.",
                     "The favourite colour of {N} is {V}.",
                     "Of all the colours, {N} likes {V} best.",
                     "{N} says that {V} is the best colour."};
  a[0].train_questions = {"What is {N}'s favourite colour?", "Which colour does {N} like best?",
                          "What colour does {N} love?"};
  a[0].held_out_questions = {"Which colour is the favourite of {N}?",
                             "What colour does {N} like best of all?"};
  a[0].values = {"red",  "blue",  "green", "yellow", "orange", "purple",
                 "pink", "white", "black", "brown",  "grey",   "gold"};

  a[1].name = "home";
  a[1].answer = "{N} lives in {V}.";
  a[1].statements = {"{N} lives in {V}.", "The home of {N} is {V}.", "{N}'s home is {V}.",
                     "Every night, {N} goes back to {V}.", "You can visit {N} at {V}."};
  a[1].train_questions = {"Where does {N} live?", "Where is {N}'s home?",
                          "What is the home of {N}?"};
  a[1].held_out_questions = {"Where is the home of {N}?", "Where does {N} go back to every night?"};
  a[1].values = {"the red house",     "the old mill",   "the tall tower", "the little boat",
                 "the stone cottage", "the hill farm",  "the river hut",  "the lighthouse",
                 "the windmill",      "the tree house", "the blue tent",  "the castle",
                 "the cave",          "the bakery",     "the green barn", "the garden shed"};

  a[2].name = "food";
  a[2].answer = "{N} likes to eat {V}.";
  a[2].statements = {"{N} likes to eat {V}.", "The favourite food of {N} is {V}.",
                     "{N}'s favourite food is {V}.", "For lunch, {N} always eats {V}.",
                     "{N} never says no to {V}."};
  a[2].train_questions = {"What does {N} like to eat?", "What is {N}'s favourite food?",
                          "Which food does {N} like?"};
  a[2].held_out_questions = {"What food does {N} like to eat?",
                             "What does {N} always eat for lunch?"};
  a[2].values = {"apples", "pears",   "plums", "cherries", "carrots",  "bread",
                 "cheese", "soup",    "rice",  "noodles",  "pancakes", "honey",
                 "nuts",   "berries", "fish",  "cookies"};

  a[3].name = "friend";
  a[3].answer = "{N}'s best friend is {V}.";
  a[3].statements = {"{N}'s best friend is {V}.", "The best friend of {N} is {V}.",
                     "{N} plays with {V} every day.",
                     "{N} likes to play with {V} more than with anyone else.",
                     "When {N} feels sad, {V} comes to help."};
  a[3].train_questions = {"Who is {N}'s best friend?", "Who is the best friend of {N}?",
                          "Who does {N} like to play with?"};
  a[3].held_out_questions = {"Who is the friend that {N} likes best?",
                             "Who comes to help when {N} feels sad?"};

  a[4].name = "job";
  a[4].answer = "{N} works as {V}.";
  a[4].statements = {"{N} works as {V}.", "{N} has a job as {V}.",
                     "Everyone in town knows that {N} is {V}.", "{N} has been {V} for many years.",
                     "By day, {N} works hard as {V}."};
  a[4].train_questions = {"What does {N} do for work?", "What is {N}'s job?",
                          "What job does {N} have?"};
  a[4].held_out_questions = {"What work does {N} do?", "What does {N} work as?"};
  a[4].values = {"a baker",  "a farmer",  "a painter", "a doctor", "a teacher",  "a fisher",
                 "a singer", "a builder", "a tailor",  "a cook",   "a gardener", "a pilot",
                 "a sailor", "a miner",   "a potter",  "an artist"};

  a[5].name = "pet";
  a[5].answer = "{N} has a pet {V}.";
  a[5].statements = {"{N} has a pet {V}.", "{N}'s pet is a {V}.", "The pet of {N} is a {V}.",
                     "{N} takes good care of a little {V}.", "Every morning, {N} feeds a pet {V}."};
  a[5].train_questions = {"What pet does {N} have?", "What is {N}'s pet?",
                          "Which animal does {N} keep as a pet?"};
  a[5].held_out_questions = {"What animal does {N} have as a pet?", "Which pet does {N} have?"};
  a[5].values = {"cat",   "dog", "frog", "rabbit", "parrot", "goat", "turtle",
                 "mouse", "hen", "duck", "pony",   "snail",  "fox",  "pig"};
  return a;
}

}  // namespace

const std::vector<AttributeSpec>& Attributes() {
  static const std::vector<AttributeSpec>* attributes =
      new std::vector<AttributeSpec>(MakeAttributes());
  return *attributes;
}

int AttributeIndex(const std::string& name) {
  const auto& attributes = Attributes();
  for (size_t i = 0; i < attributes.size(); ++i) {
    if (attributes[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const std::vector<std::string>& KnowledgeBase::Values(int a) const {
  const AttributeSpec& spec = Attributes()[a];
  return spec.values.empty() ? names : spec.values;
}

KnowledgeBase BuildKnowledgeBase(int num_entities, uint64_t seed) {
  KnowledgeBase kb;
  kb.seed = seed;
  Rng rng(DeriveSeed(seed, /*stream=*/1));
  std::set<std::string> reserved;
  for (const StoryCharacter& c : StoryCharacters()) reserved.insert(c.name);
  kb.names = InventNames(num_entities, reserved, &rng);
  const int n = static_cast<int>(kb.names.size());
  const auto& attributes = Attributes();
  for (int e = 0; e < n; ++e) {
    Entity entity;
    char id[16];
    std::snprintf(id, sizeof(id), "e%03d", e);
    entity.id = id;
    entity.name = kb.names[e];
    for (size_t a = 0; a < attributes.size(); ++a) {
      int value;
      if (attributes[a].values.empty()) {  // friend: anyone but oneself
        value = static_cast<int>(rng.Below(n - 1));
        if (value >= e) ++value;
      } else {
        value = static_cast<int>(rng.Below(attributes[a].values.size()));
      }
      entity.value_ids.push_back(value);
      entity.values.push_back(kb.Values(static_cast<int>(a))[value]);
    }
    kb.entities.push_back(std::move(entity));
  }
  return kb;
}

std::string KnowledgeBaseJson(const KnowledgeBase& kb) {
  using OrderedJson = nlohmann::ordered_json;
  OrderedJson root = OrderedJson::object();
  root["format"] = "prunegate-kb/1";
  root["seed"] = kb.seed;
  OrderedJson attributes = OrderedJson::array();
  for (size_t a = 0; a < Attributes().size(); ++a) {
    const AttributeSpec& spec = Attributes()[a];
    attributes.push_back(OrderedJson{{"name", spec.name},
                                     {"answer_template", spec.answer},
                                     {"statement_templates", spec.statements},
                                     {"train_question_templates", spec.train_questions},
                                     {"held_out_question_templates", spec.held_out_questions},
                                     {"values", kb.Values(static_cast<int>(a))}});
  }
  root["attributes"] = std::move(attributes);
  OrderedJson entities = OrderedJson::array();
  for (const Entity& entity : kb.entities) {
    OrderedJson e = OrderedJson::object();
    e["id"] = entity.id;
    e["name"] = entity.name;
    for (size_t a = 0; a < Attributes().size(); ++a) e[Attributes()[a].name] = entity.values[a];
    entities.push_back(std::move(e));
  }
  root["entities"] = std::move(entities);
  return root.dump(1) + "\n";
}

}  // namespace prunegate::corpus
