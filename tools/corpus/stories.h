// Short templated children's stories: a character, a friend or animal, an object, a place and
// some dialogue, in five plots (a lost toy, sharing, a trip, helping an animal, a fear). Each story
// is one paragraph of about 80-130 words. Held-out story prompts start with opening sentences
// the training text never uses.
#ifndef PRUNEGATE_TOOLS_CORPUS_STORIES_H_
#define PRUNEGATE_TOOLS_CORPUS_STORIES_H_

#include <string>
#include <vector>

#include "tools/corpus/rng.h"

namespace prunegate::corpus {

struct StoryCharacter {
  std::string name;
  bool girl;
};
const std::vector<StoryCharacter>& StoryCharacters();

// Opening sentence templates: {X} the character's name, {K} "girl" or "boy".
const std::vector<std::string>& TrainStoryOpenings();
const std::vector<std::string>& HeldOutStoryOpenings();

// A training story (opening from TrainStoryOpenings), one paragraph, no trailing newline.
std::string MakeTrainingStory(Rng* rng);

struct HeldOutStory {
  std::string prompt;     // held-out opening sentence + the plot's first sentence
  std::string reference;  // the rest of the story, starting with a space
  std::string opening;    // the instantiated opening sentence
  int opening_template;   // index into HeldOutStoryOpenings()
  std::string plot;       // "lost", "share", "trip", "help", "fear"
};
HeldOutStory MakeHeldOutStory(Rng* rng);

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_STORIES_H_
