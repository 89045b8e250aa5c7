#include "tools/corpus/training_text.h"

#include "tools/corpus/stories.h"

namespace prunegate::corpus {
namespace {

constexpr int kCalibrationSamples = 400;

}  // namespace

const char* DocKindName(DocKind kind) {
  switch (kind) {
    case DocKind::kProfile:
      return "profile";
    case DocKind::kQa:
      return "qa";
    case DocKind::kMultipleChoice:
      return "multiple_choice";
    case DocKind::kArithmetic:
      return "arithmetic";
    case DocKind::kStory:
      return "story";
  }
  return "unknown";
}

int DocKindBytePercent(DocKind kind) {
  switch (kind) {
    case DocKind::kProfile:
      return 17;
    case DocKind::kQa:
      return 19;
    case DocKind::kMultipleChoice:
      return 32;
    case DocKind::kArithmetic:
      return 16;
    case DocKind::kStory:
      return 16;
  }
  return 0;
}

TrainingText::TrainingText(const KnowledgeText& text, const Arithmetic& arithmetic, uint64_t seed)
    : text_(text), arithmetic_(arithmetic) {
  Rng rng(seed);
  for (int k = 0; k < kNumDocKinds; ++k) {
    uint64_t bytes = 0;
    for (int i = 0; i < kCalibrationSamples; ++i) {
      bytes += Make(static_cast<DocKind>(k), &rng, nullptr, nullptr).size() + 2;
    }
    // P(kind) proportional to share / mean length, so bytes per kind follow the shares.
    const uint64_t mean = bytes / kCalibrationSamples + 1;
    weights_.push_back(static_cast<uint64_t>(DocKindBytePercent(static_cast<DocKind>(k))) *
                       1000000 / mean);
  }
}

std::string TrainingText::Make(DocKind kind, Rng* rng, ProfileRotation* rotation,
                               std::vector<int64_t>* fact_counts) const {
  switch (kind) {
    case DocKind::kProfile:
      return text_.MakeProfile(rng, rotation, fact_counts);
    case DocKind::kQa:
      return text_.MakeQaBlock(rng, fact_counts);
    case DocKind::kMultipleChoice:
      return text_.MakeMcBlock(rng, fact_counts);
    case DocKind::kArithmetic:
      return arithmetic_.MakeTrainingBlock(rng);
    case DocKind::kStory:
      return MakeTrainingStory(rng);
  }
  return "";
}

std::string TrainingText::Next(Rng* rng, ProfileRotation* rotation, DocKind* kind,
                               std::vector<int64_t>* fact_counts) const {
  *kind = static_cast<DocKind>(rng->Weighted(weights_));
  return Make(*kind, rng, rotation, fact_counts);
}

}  // namespace prunegate::corpus
