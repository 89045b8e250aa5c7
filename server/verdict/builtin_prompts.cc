// The built-in generation prompts: short, plain English openings of the kinds of text a small
// general model continues (stories, facts, questions, instructions).
#include "server/verdict/assess.h"

namespace prunegate::verdict {

std::vector<std::string> BuiltinGenerationPrompts() {
  return {
      "Once upon a time, there was a little girl who",
      "The weather today is",
      "Q: What is the capital of France? A:",
      "Tom was a little boy who liked to play. One day,",
      "Here is a short list of fruits:",
      "The best way to learn a new language is",
      "Q: How much is 12 + 7? A:",
      "In the morning, the old man walked to the",
      "My favourite animal is the",
      "The train left the station and",
      "Q: Where does the sun rise? A:",
      "To make a cup of tea, first",
      "The children ran into the garden because",
      "A good friend is someone who",
      "The story of the brave knight begins",
      "Yesterday I went to the market and bought",
  };
}

}  // namespace prunegate::verdict
