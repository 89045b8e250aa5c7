// The training-text mixture: documents of five kinds drawn at random so that each kind gets a
// fixed share of the text's bytes. Documents are short (one paragraph or a few lines, about
// 40-250 tokens) and contain no empty line, so a blank line can separate them.
#ifndef PRUNEGATE_TOOLS_CORPUS_TRAINING_TEXT_H_
#define PRUNEGATE_TOOLS_CORPUS_TRAINING_TEXT_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/corpus/arithmetic.h"
#include "tools/corpus/knowledge_text.h"
#include "tools/corpus/rng.h"

namespace prunegate::corpus {

enum class DocKind { kProfile = 0, kQa, kMultipleChoice, kArithmetic, kStory };
inline constexpr int kNumDocKinds = 5;
// "profile", "qa", "multiple_choice", "arithmetic", "story".
const char* DocKindName(DocKind kind);
// Share of the training bytes per kind, in percent (sums to 100), indexed by DocKind.
using DocMix = std::array<int, kNumDocKinds>;
// The default mixture: 15% profiles, 17% Q/A, 36% multiple choice, 16% arithmetic, 16% stories.
DocMix DefaultDocMix();
// Parses "profile=17,qa=19,multiple_choice=32,arithmetic=16,story=16" (every kind once, each
// share in [0, 100], summing to 100).
absl::StatusOr<DocMix> ParseDocMix(const std::string& text);
std::string DocMixString(const DocMix& mix);

class TrainingText {
 public:
  // `text` and `arithmetic` must outlive this object. `seed` drives the calibration of the
  // per-kind probabilities (the mean byte length of each kind, measured on a sample).
  TrainingText(const KnowledgeText& text, const Arithmetic& arithmetic, uint64_t seed,
               const DocMix& mix = DefaultDocMix());

  // The next document (no trailing newline); counts fact statements as KnowledgeText does.
  // `rotation` is the output stream's profile rotation (null: random profiles).
  std::string Next(Rng* rng, ProfileRotation* rotation, DocKind* kind,
                   std::vector<int64_t>* fact_counts) const;
  std::string Make(DocKind kind, Rng* rng, ProfileRotation* rotation,
                   std::vector<int64_t>* fact_counts) const;

 private:
  const KnowledgeText& text_;
  const Arithmetic& arithmetic_;
  std::vector<uint64_t> weights_;  // per kind: share / mean length, scaled to integers
};

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TOOLS_CORPUS_TRAINING_TEXT_H_
