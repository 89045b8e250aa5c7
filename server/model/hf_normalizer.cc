#include "server/model/hf_normalizer.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/hf_pattern.h"
#include "server/model/utf8.h"

namespace prunegate::hf {
namespace {

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  absl::Status Normalize(std::string* text) const override {
    for (const auto& step : steps_) PG_RETURN_IF_ERROR(step->Normalize(text));
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

// Prepends a string to non-empty text (Hugging Face leaves empty text alone).
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  absl::Status Normalize(std::string* text) const override {
    if (!text->empty()) text->insert(0, prepend_);
    return absl::OkStatus();
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  absl::Status Normalize(std::string* text) const override {
    PG_ASSIGN_OR_RETURN(*text, pattern_.ReplaceAll(*text, content_));
    return absl::OkStatus();
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// NFC without composition tables: text made only of code points that are NFC starters which
// never compose with a neighbour (NFC_Quick_Check=Yes, canonical combining class 0) is already in
// NFC and passes unchanged. The ranges below are a conservative subset of those (Latin, Greek,
// Cyrillic, general punctuation and symbols, CJK, kana, Hangul syllables, emoji); any other code
// point (combining marks, Indic and Semitic scripts, compatibility ideographs, ...) makes Encode
// fail with UNIMPLEMENTED rather than silently produce ids that differ from Hugging Face.
class NfcNormalizer : public Normalizer {
 public:
  absl::Status Normalize(std::string* text) const override {
    size_t i = 0;
    while (i < text->size()) {
      const char32_t cp = utf8::NextCodePoint(*text, &i);
      if (!IsNfcStable(cp)) {
        return absl::UnimplementedError(absl::StrCat(
            "tokenizer.json normalizer NFC: text contains U+",
            absl::Hex(static_cast<uint32_t>(cp), absl::kZeroPad4),
            ", which this implementation cannot normalize (only NFC-stable text such as Latin, "
            "Greek, Cyrillic, CJK, Hangul and emoji is supported)"));
      }
    }
    return absl::OkStatus();
  }

 private:
  static bool IsNfcStable(char32_t cp) {
    struct Range {
      char32_t lo, hi;  // inclusive
    };
    static constexpr Range kStable[] = {
        {0x0000, 0x02FF}, {0x0370, 0x0373},   {0x0375, 0x037D},   {0x037F, 0x0386},
        {0x0388, 0x0482}, {0x048A, 0x052F},   {0x2002, 0x20CF},   {0x2100, 0x2125},
        {0x2127, 0x2129}, {0x212C, 0x218F},   {0x2190, 0x2328},   {0x232B, 0x23FF},
        {0x2460, 0x27FF}, {0x3000, 0x3029},   {0x3030, 0x3098},   {0x309B, 0x30FF},
        {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3},   {0xFE00, 0xFE0F},
        {0xFF01, 0xFFEF}, {0x1F000, 0x1FAFF}, {0x20000, 0x2F7FF}, {0x30000, 0x3134F},
    };
    for (const Range& r : kStable) {
      if (cp >= r.lo && cp <= r.hi) return true;
    }
    return false;
  }
};

constexpr char kSupported[] = "Sequence, Prepend, Replace, NFC (NFC-stable text only)";

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const Json& value,
                                                            std::string_view path,
                                                            const JsonFile& file) {
  if (value.is_null()) return std::unique_ptr<Normalizer>();
  PG_ASSIGN_OR_RETURN(std::string type, GetType(value, path, file));
  if (type == "Sequence") {
    PG_ASSIGN_OR_RETURN(const Json* list, RequireMember(value, "normalizers", path, file));
    const std::string list_path = FieldPath(path, "normalizers");
    if (!list->is_array()) return file.Error(list_path, "expected an array");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < list->size(); ++i) {
      PG_ASSIGN_OR_RETURN(auto step, ParseNormalizer((*list)[i], IndexPath(list_path, i), file));
      if (step != nullptr) steps.push_back(std::move(step));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(steps)));
  }
  if (type == "Prepend") {
    PG_ASSIGN_OR_RETURN(std::string prepend, GetString(value, "prepend", path, file));
    return std::unique_ptr<Normalizer>(new PrependNormalizer(std::move(prepend)));
  }
  if (type == "Replace") {
    PG_ASSIGN_OR_RETURN(const Json* pattern_json, RequireMember(value, "pattern", path, file));
    PG_ASSIGN_OR_RETURN(Pattern pattern,
                        Pattern::Parse(*pattern_json, FieldPath(path, "pattern"), file));
    PG_ASSIGN_OR_RETURN(std::string content, GetString(value, "content", path, file));
    return std::unique_ptr<Normalizer>(new ReplaceNormalizer(std::move(pattern), content));
  }
  if (type == "NFC") return std::unique_ptr<Normalizer>(new NfcNormalizer());
  return file.Error(FieldPath(path, "type"), absl::StrCat("unsupported normalizer \"", type,
                                                          "\" (supported: ", kSupported, ")"));
}

}  // namespace prunegate::hf
