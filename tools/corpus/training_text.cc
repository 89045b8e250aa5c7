#include "tools/corpus/training_text.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

DocMix DefaultDocMix() { return {15, 17, 36, 16, 16}; }

absl::StatusOr<DocMix> ParseDocMix(const std::string& text) {
  DocMix mix;
  std::array<bool, kNumDocKinds> seen{};
  int total = 0;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    const std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    int k = 0;
    while (k < kNumDocKinds && kv[0] != DocKindName(static_cast<DocKind>(k))) ++k;
    int percent = -1;
    if (k == kNumDocKinds || kv.size() != 2 || !absl::SimpleAtoi(kv[1], &percent) ||
        percent < 0 || percent > 100 || seen[k]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad mixture entry \"", part, "\": want KIND=PERCENT once per kind, kinds profile, qa, ",
          "multiple_choice, arithmetic, story"));
    }
    seen[k] = true;
    mix[k] = percent;
    total += percent;
  }
  for (int k = 0; k < kNumDocKinds; ++k) {
    if (!seen[k]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mixture \"", text, "\" has no share for ", DocKindName(static_cast<DocKind>(k))));
    }
  }
  if (total != 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("mixture shares sum to ", total, ", not 100: \"", text, "\""));
  }
  return mix;
}

std::string DocMixString(const DocMix& mix) {
  std::string out;
  for (int k = 0; k < kNumDocKinds; ++k) {
    absl::StrAppend(&out, k > 0 ? "," : "", DocKindName(static_cast<DocKind>(k)), "=", mix[k]);
  }
  return out;
}

TrainingText::TrainingText(const KnowledgeText& text, const Arithmetic& arithmetic, uint64_t seed,
                           const DocMix& mix)
    : text_(text), arithmetic_(arithmetic) {
  Rng rng(seed);
  for (int k = 0; k < kNumDocKinds; ++k) {
    uint64_t bytes = 0;
    for (int i = 0; i < kCalibrationSamples; ++i) {
      bytes += Make(static_cast<DocKind>(k), &rng, nullptr, nullptr).size() + 2;
    }
    // P(kind) proportional to share / mean length, so bytes per kind follow the shares.
    const uint64_t mean = bytes / kCalibrationSamples + 1;
    weights_.push_back(static_cast<uint64_t>(mix[k]) * 1000000 / mean);
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
