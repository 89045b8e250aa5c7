#include "tools/corpus/arithmetic.h"

#include <algorithm>

#include "tools/corpus/text_template.h"

namespace prunegate::corpus {

const ArithmeticTemplates& GetArithmeticTemplates() {
  static const ArithmeticTemplates* templates = new ArithmeticTemplates{
      {"What is {A} + {B}?", "What is {A} plus {B}?", "Add {A} and {B}.",
       "What is the sum of {A} and {B}?", "How much is {A} plus {B}?",
       "If you add {A} and {B}, what do you get?"},
      {"How much is {A} + {B}?", "What do you get when you add {A} and {B}?"},
      {"What is {A} - {B}?", "What is {A} minus {B}?", "Subtract {B} from {A}.",
       "Take {B} away from {A}.", "How much is {A} minus {B}?",
       "If you take {B} away from {A}, what is left?"},
      {"How much is {A} - {B}?", "What is left when you take {B} away from {A}?"}};
  return *templates;
}

std::string ArithmeticProblem::Equation() const {
  return std::to_string(a) + (add ? " + " : " - ") + std::to_string(b) + " = " +
         std::to_string(Answer()) + ".";
}

Arithmetic::Arithmetic(uint64_t seed, int max_operand, int held_out_permille)
    : seed_(seed), max_operand_(max_operand), held_out_permille_(held_out_permille) {
  for (int a = 0; a <= max_operand_; ++a) {
    for (int b = 0; b <= max_operand_; ++b) {
      const ArithmeticProblem add{true, a, b}, sub{false, b, a};
      if (a <= b && IsHeldOut(add)) held_out_add_.push_back(add);
      if (a <= b && IsHeldOut(sub)) held_out_sub_.push_back(sub);
    }
  }
}

bool Arithmetic::IsHeldOut(const ArithmeticProblem& p) const {
  const uint64_t lo = p.add ? std::min(p.a, p.b) : p.a;
  const uint64_t hi = p.add ? std::max(p.a, p.b) : p.b;
  const uint64_t key = (lo << 20) | (hi << 1) | (p.add ? 1 : 0);
  return DeriveSeed(seed_, key) % 1000 < static_cast<uint64_t>(held_out_permille_);
}

ArithmeticProblem Arithmetic::DrawTraining(Rng* rng) const {
  ArithmeticProblem p;
  p.add = rng->Chance(1, 2);
  // At most half of the pairs are held out (the generator checks), so this ends quickly.
  do {
    p.a = rng->Range(0, max_operand_);
    p.b = rng->Range(0, max_operand_);
    if (!p.add && p.a < p.b) std::swap(p.a, p.b);
  } while (IsHeldOut(p));
  return p;
}

std::string Arithmetic::MakeTrainingBlock(Rng* rng) const {
  const ArithmeticTemplates& t = GetArithmeticTemplates();
  const int lines = rng->Range(4, 8);
  std::string out;
  for (int i = 0; i < lines; ++i) {
    if (i > 0) out += "\n";
    const ArithmeticProblem p = DrawTraining(rng);
    if (rng->Chance(1, 5)) {  // a bare equation drill
      std::string eq = p.Equation();
      eq.pop_back();  // no final period
      out += eq;
      continue;
    }
    const std::string a = std::to_string(p.a), b = std::to_string(p.b);
    out += "Q: ";
    AppendFilled(rng->Pick(p.add ? t.add_train : t.sub_train), {{'A', a}, {'B', b}}, &out);
    out += " A: ";
    out += p.Equation();
  }
  return out;
}

Arithmetic::HeldOutItem Arithmetic::MakeHeldOutItem(const ArithmeticProblem& problem,
                                                    Rng* rng) const {
  const ArithmeticTemplates& t = GetArithmeticTemplates();
  HeldOutItem item;
  item.problem = problem;
  if (problem.add && rng->Chance(1, 2)) std::swap(item.problem.a, item.problem.b);
  const std::vector<std::string>& templates = problem.add ? t.add_held_out : t.sub_held_out;
  item.template_index = static_cast<int>(rng->Below(templates.size()));
  const std::string a = std::to_string(item.problem.a), b = std::to_string(item.problem.b);
  item.prompt = "Q: " + Fill(templates[item.template_index], {{'A', a}, {'B', b}}) + " A:";
  item.reference = " " + item.problem.Equation();
  return item;
}

}  // namespace prunegate::corpus
