#include "tools/corpus/stories.h"

#include "tools/corpus/text_template.h"

namespace prunegate::corpus {
namespace {

// Each plot is a list of sentences; each sentence has one or more alternative templates.
// Slots: {X} name, {p}/{P} she/he, {h} her/his, {m} her/him, {Y} a friend's name, {H}/{J} the
// helper (friend or "the dog") mid-sentence / capitalized, {A} animal, {O} object, {L} place,
// {R} mom/dad, {T} time phrase, {S} hiding spot, {W}/{Z} sights at the place, {G} adjective,
// {U} where an animal is stuck, {F} a fear.
using Plot = std::vector<std::vector<std::string>>;

struct PlotSpec {
  const char* name;
  Plot sentences;
};

const std::vector<PlotSpec>& Plots() {
  static const std::vector<PlotSpec>* plots = new std::vector<PlotSpec>{
      {"lost",
       {{"{X} had a {O} that {p} loved very much.", "{X} had a favourite toy, a {O}."},
        {"{T}, {X} took the {O} to {L}.", "{T}, {X} went to {L} with the {O}."},
        {"{P} played with it for a long time.", "{X} played and played until {p} was tired."},
        {"When it was time to go home, the {O} was gone!",
         "Then {X} looked down. The {O} was not there!"},
        {"{X} felt sad. \"Where is my {O}?\" {p} asked.", "\"Oh no! Where is my {O}?\" cried {X}."},
        {"{J} came to help."},
        {"They looked high and low.", "They looked everywhere."},
        {"At last, {H} found the {O} {S}.", "At last, they found the {O} {S}."},
        {"\"Thank you!\" said {X}. \"You are a good friend.\"",
         "{X} hugged the {O} and said, \"Thank you for helping me!\""},
        {"{X} was very happy, and they played together until the sun went down.",
         "After that, {X} always kept the {O} close."}}},
      {"share",
       {{"{T}, {X} got a new {O}.", "{X} had a new {O}, and {p} loved it."},
        {"{X} took it to {L} to play."},
        {"{Y} saw the {O} and asked, \"Can I play too?\"",
         "\"Can I play with your {O}?\" asked {Y}."},
        {"At first, {X} did not want to share.",
         "{X} held the {O} tight and said, \"No, it is mine.\""},
        {"{Y} looked sad and walked away.", "{Y} was sad."},
        {"Then {X}'s {R} said, \"Sharing makes everyone happy.\"",
         "{X} thought about it for a while."},
        {"{X} gave the {O} to {Y} and said, \"Let us play together.\""},
        {"{Y} smiled. \"Thank you, {X}!\""},
        {"They took turns and had a lot of fun.", "They played together all afternoon."},
        {"{X} learned that sharing is kind.",
         "That day, {X} found out that playing with a friend is more fun."}}},
      {"trip",
       {{"{T}, {X} and {h} {R} went to {L}."},
        {"{X} saw {W} and {Z}."},
        {"\"Look!\" said {X}. \"It is so {G}!\""},
        {"{X}'s {R} smiled and held {h} hand.", "They walked and talked for a long time."},
        {"Then it started to rain.", "Then the wind began to blow.", "Then {X} got very tired."},
        {"They ran home, laughing all the way.", "They went home and drank warm milk."},
        {"That night, {X} told {Y} all about the trip."},
        {"\"It was the best day ever!\" said {X}."}}},
      {"help",
       {{"{T}, {X} was walking in {L} when {p} heard a small sound."},
        {"It was a little {A} stuck {U}."},
        {"\"Please help me,\" said the {A}."},
        {"{X} was a little scared, but {p} was brave.", "{X} wanted to help."},
        {"{P} pulled gently, and the {A} was free.",
         "{P} called {Y}, and together they set the {A} free."},
        {"The {A} said, \"Thank you! You are very kind.\""},
        {"From that day on, {X} and the {A} were best friends.",
         "The {A} came to visit {X} every day."}}},
      {"fear",
       {{"{X} was afraid of {F}."},
        {"One night, {X} could not sleep.", "{T}, {X} did not want to go outside."},
        {"{X} went to {h} {R} and said, \"I am scared.\""},
        {"{X}'s {R} sat next to {m} and said, \"It is okay to be scared. I am here with you.\""},
        {"They sang a song together.", "They read a book together."},
        {"{X} took a deep breath and felt brave."},
        {"After that, {X} was not so scared of {F} anymore."}}},
  };
  return *plots;
}

struct Place {
  const char* name;
  const char* sight1;
  const char* sight2;
};
const Place kPlaces[] = {
    {"the park", "a big slide", "ducks on the pond"},
    {"the garden", "red flowers", "a busy bee"},
    {"the beach", "big waves", "white shells"},
    {"the forest", "tall trees", "a small fox"},
    {"the farm", "a brown cow", "little pigs"},
    {"the lake", "a small boat", "two white swans"},
    {"the market", "sweet apples", "a man with balloons"},
    {"the zoo", "a tall giraffe", "a sleepy lion"},
    {"the hill", "the whole town", "a flying kite"},
    {"the library", "many books", "a big map"},
};
const std::vector<std::string> kObjects = {
    "red ball",   "blue kite",   "shiny stone",  "toy boat",     "teddy bear",
    "yellow hat", "little drum", "picture book", "wooden train", "soft blanket"};
const std::vector<std::string> kAnimals = {"dog",  "cat",  "bird",  "bunny",
                                           "frog", "duck", "puppy", "kitten"};
const std::vector<std::string> kTimes = {"One sunny morning", "One rainy day",
                                         "One windy afternoon", "One cold evening", "One day"};
const std::vector<std::string> kSpots = {"under a big tree",  "behind the bench",
                                         "in the tall grass", "under the bed",
                                         "next to the pond",  "inside a box"};
const std::vector<std::string> kAdjectives = {"big", "pretty", "fun"};
const std::vector<std::string> kStuck = {"in a bush", "in the mud", "up a tree",
                                         "under a big rock"};
const std::vector<std::string> kFears = {"the dark", "loud thunder", "big waves"};
const std::vector<std::string> kParents = {"mom", "dad"};

// Everything a story's slots need, drawn once per story.
struct Cast {
  const StoryCharacter* hero;
  const StoryCharacter* friend_;
  std::string helper, helper_cap;
  const Place* place;
  std::string animal, object, parent, time, spot, adjective, stuck, fear;
};

Cast DrawCast(Rng* rng) {
  const auto& characters = StoryCharacters();
  Cast c;
  const size_t hero = rng->Below(characters.size());
  size_t other = rng->Below(characters.size() - 1);
  if (other >= hero) ++other;
  c.hero = &characters[hero];
  c.friend_ = &characters[other];
  c.place = &kPlaces[rng->Below(sizeof(kPlaces) / sizeof(kPlaces[0]))];
  c.animal = rng->Pick(kAnimals);
  c.object = rng->Pick(kObjects);
  c.parent = rng->Pick(kParents);
  c.time = rng->Pick(kTimes);
  c.spot = rng->Pick(kSpots);
  c.adjective = rng->Pick(kAdjectives);
  c.stuck = rng->Pick(kStuck);
  c.fear = rng->Pick(kFears);
  if (rng->Chance(1, 2)) {
    c.helper = c.helper_cap = c.friend_->name;
  } else {
    c.helper = "the " + c.animal;
    c.helper_cap = "The " + c.animal;
  }
  return c;
}

void AppendSentence(const std::string& tmpl, const Cast& c, std::string* out) {
  const bool girl = c.hero->girl;
  AppendFilled(tmpl,
               {{'X', c.hero->name},
                {'K', girl ? "girl" : "boy"},
                {'p', girl ? "she" : "he"},
                {'P', girl ? "She" : "He"},
                {'h', girl ? "her" : "his"},
                {'m', girl ? "her" : "him"},
                {'Y', c.friend_->name},
                {'H', c.helper},
                {'J', c.helper_cap},
                {'A', c.animal},
                {'O', c.object},
                {'L', c.place->name},
                {'R', c.parent},
                {'T', c.time},
                {'S', c.spot},
                {'W', c.place->sight1},
                {'Z', c.place->sight2},
                {'G', c.adjective},
                {'U', c.stuck},
                {'F', c.fear}},
               out);
}

// The plot's sentences (each alternative drawn at random), each preceded by a space.
std::string PlotText(const PlotSpec& plot, const Cast& cast, Rng* rng, std::string* first) {
  std::string body;
  for (size_t i = 0; i < plot.sentences.size(); ++i) {
    std::string sentence;
    AppendSentence(rng->Pick(plot.sentences[i]), cast, &sentence);
    if (i == 0 && first != nullptr) {
      *first = sentence;
      continue;
    }
    body += " ";
    body += sentence;
  }
  return body;
}

}  // namespace

const std::vector<StoryCharacter>& StoryCharacters() {
  static const std::vector<StoryCharacter>* characters = new std::vector<StoryCharacter>{
      {"Lily", true},  {"Mia", true},   {"Anna", true},  {"Zoe", true},   {"Ella", true},
      {"Lucy", true},  {"Rosa", true},  {"Ivy", true},   {"Nora", true},  {"Ruby", true},
      {"Emma", true},  {"Maya", true},  {"Tom", false},  {"Ben", false},  {"Sam", false},
      {"Max", false},  {"Leo", false},  {"Jack", false}, {"Finn", false}, {"Noah", false},
      {"Owen", false}, {"Theo", false}, {"Jake", false}, {"Luke", false}};
  return *characters;
}

const std::vector<std::string>& TrainStoryOpenings() {
  static const std::vector<std::string>* openings = new std::vector<std::string>{
      "Once upon a time, there was a little {K} named {X}.",
      "There was a {K} named {X} who liked to play.", "{X} was a happy little {K}."};
  return *openings;
}

const std::vector<std::string>& HeldOutStoryOpenings() {
  static const std::vector<std::string>* openings =
      new std::vector<std::string>{"{X} was a little {K} who liked to play.",
                                   "Once upon a time, a happy little {K} named {X} liked to play."};
  return *openings;
}

std::string MakeTrainingStory(Rng* rng) {
  const Cast cast = DrawCast(rng);
  const PlotSpec& plot = rng->Pick(Plots());
  std::string story;
  AppendSentence(rng->Pick(TrainStoryOpenings()), cast, &story);
  story += PlotText(plot, cast, rng, nullptr);
  return story;
}

HeldOutStory MakeHeldOutStory(Rng* rng) {
  const Cast cast = DrawCast(rng);
  const PlotSpec& plot = rng->Pick(Plots());
  HeldOutStory out;
  out.plot = plot.name;
  out.opening_template = static_cast<int>(rng->Below(HeldOutStoryOpenings().size()));
  AppendSentence(HeldOutStoryOpenings()[out.opening_template], cast, &out.opening);
  std::string first;
  out.reference = PlotText(plot, cast, rng, &first);
  out.prompt = out.opening + " " + first;
  return out;
}

}  // namespace prunegate::corpus
