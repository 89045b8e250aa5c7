// Arithmetic: short additions and subtractions of numbers in [0, max_operand] with the answer
// written out as an equation ("Q: What is 23 + 45? A: 23 + 45 = 68."). A seeded fraction of
// operand pairs is held out: training text never contains them; held-out task items use only
// them, with question templates the training text never uses.
#ifndef PRUNEGATE_TOOLS_CORPUS_ARITHMETIC_H_
#define PRUNEGATE_TOOLS_CORPUS_ARITHMETIC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/corpus/rng.h"

namespace prunegate::corpus {

// Question templates: {A} and {B} the operands. Answers are always "{A} + {B} = {C}." /
// "{A} - {B} = {C}." with the operands in the order the question names them.
struct ArithmeticTemplates {
  std::vector<std::string> add_train, add_held_out, sub_train, sub_held_out;
};
const ArithmeticTemplates& GetArithmeticTemplates();

struct ArithmeticProblem {
  bool add = true;
  int a = 0, b = 0;  // subtraction has a >= b, so answers are never negative
  int Answer() const { return add ? a + b : a - b; }
  // "23 + 45 = 68."
  std::string Equation() const;
};

class Arithmetic {
 public:
  // Pairs are held out with probability held_out_permille / 1000, decided by a hash of
  // (seed, operation, pair); addition holds out unordered pairs, so 23 + 45 and 45 + 23 go
  // together.
  Arithmetic(uint64_t seed, int max_operand, int held_out_permille);

  bool IsHeldOut(const ArithmeticProblem& p) const;
  // A uniformly drawn training problem (its pair is not held out).
  ArithmeticProblem DrawTraining(Rng* rng) const;

  // Training text: 4-8 lines, each a Q/A with a training template or a bare "a + b = c" line.
  std::string MakeTrainingBlock(Rng* rng) const;

  struct HeldOutItem {
    ArithmeticProblem problem;
    std::string prompt;     // "Q: How much is 23 + 45? A:"
    std::string reference;  // " 23 + 45 = 68."
    int template_index;     // into add_held_out / sub_held_out
  };
  // `problem` must be held out; draws the question template.
  HeldOutItem MakeHeldOutItem(const ArithmeticProblem& problem, Rng* rng) const;

  int max_operand() const { return max_operand_; }
  // The held-out problems of one operation (each addition pair once, with a <= b).
  const std::vector<ArithmeticProblem>& HeldOutProblems(bool add) const {
    return add ? held_out_add_ : held_out_sub_;
  }

 private:
  uint64_t seed_;
  int max_operand_;
  int held_out_permille_;
  std::vector<ArithmeticProblem> held_out_add_, held_out_sub_;
};

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_ARITHMETIC_H_
