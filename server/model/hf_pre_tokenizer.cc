#include "server/model/hf_pre_tokenizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/byte_level.h"
#include "server/model/hf_metaspace.h"
#include "server/model/hf_pattern.h"
#include "server/model/unicode_regex.h"

namespace prunegate::hf {
namespace {

// GPT-2's split pattern, used by ByteLevel with use_regex.
constexpr char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Part {
  size_t begin, end;
  bool is_match;
};

// Replaces each piece by the sub-pieces `split` returns (as ranges into the piece's text).
template <typename SplitFn>
absl::Status SplitEach(std::vector<Piece>* pieces, SplitFn split) {
  std::vector<Piece> out;
  out.reserve(pieces->size());
  for (Piece& piece : *pieces) {
    PG_ASSIGN_OR_RETURN(auto ranges, split(piece.text));
    for (const auto& [begin, end] : ranges) {
      out.push_back({piece.text.substr(begin, end - begin), piece.at_start && begin == 0});
    }
  }
  *pieces = std::move(out);
  return absl::OkStatus();
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  absl::Status PreTokenize(std::vector<Piece>* pieces) const override {
    for (const auto& step : steps_) PG_RETURN_IF_ERROR(step->PreTokenize(pieces));
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  absl::Status PreTokenize(std::vector<Piece>* pieces) const override {
    return SplitEach(
        pieces,
        [&](const std::string& text) -> absl::StatusOr<std::vector<std::pair<size_t, size_t>>> {
          PG_ASSIGN_OR_RETURN(auto matches, pattern_.FindAll(text));
          return SplitRanges(text.size(), matches, behavior_, invert_);
        });
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Optionally prefixes a space, splits with GPT-2's regex, then maps bytes to GPT-2 symbols.
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::shared_ptr<const UnicodeRegex> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}
  absl::Status PreTokenize(std::vector<Piece>* pieces) const override {
    if (add_prefix_space_) {
      for (Piece& piece : *pieces) {
        if (!piece.text.empty() && piece.text[0] != ' ') piece.text.insert(0, " ");
      }
    }
    if (regex_ != nullptr) {
      PG_RETURN_IF_ERROR(SplitEach(
          pieces,
          [&](const std::string& text) -> absl::StatusOr<std::vector<std::pair<size_t, size_t>>> {
            PG_ASSIGN_OR_RETURN(auto matches, regex_->FindAll(text));
            return SplitRanges(text.size(), matches, SplitBehavior::kIsolated, false);
          }));
    }
    for (Piece& piece : *pieces) piece.text = byte_level::BytesToSymbols(piece.text);
    return absl::OkStatus();
  }

 private:
  bool add_prefix_space_;
  std::shared_ptr<const UnicodeRegex> regex_;  // null without use_regex
};

// Spaces become the replacement character, which is prepended per the scheme; with `split`, each
// replacement starts a new piece.
class MetaspacePreTokenizer : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(MetaspaceOptions options) : options_(std::move(options)) {}
  absl::Status PreTokenize(std::vector<Piece>* pieces) const override {
    for (Piece& piece : *pieces) {
      std::string replaced;
      for (char c : piece.text) {
        if (c == ' ') {
          replaced += options_.replacement;
        } else {
          replaced.push_back(c);
        }
      }
      const bool starts =
          replaced.compare(0, options_.replacement.size(), options_.replacement) == 0;
      const bool prepend = !replaced.empty() && !starts &&
                           (options_.prepend_scheme == PrependScheme::kAlways ||
                            (options_.prepend_scheme == PrependScheme::kFirst && piece.at_start));
      if (prepend) replaced.insert(0, options_.replacement);
      piece.text = std::move(replaced);
    }
    if (!options_.split) return absl::OkStatus();
    const std::string& rep = options_.replacement;
    return SplitEach(
        pieces,
        [&](const std::string& text) -> absl::StatusOr<std::vector<std::pair<size_t, size_t>>> {
          std::vector<std::pair<size_t, size_t>> matches;
          for (size_t pos = text.find(rep); pos != std::string::npos; pos = text.find(rep, pos)) {
            matches.emplace_back(pos, pos + rep.size());
            pos += rep.size();
          }
          return SplitRanges(text.size(), matches, SplitBehavior::kMergedWithNext, false);
        });
  }

 private:
  MetaspaceOptions options_;
};

absl::StatusOr<SplitBehavior> ParseBehavior(const Json& value, std::string_view path,
                                            const JsonFile& file) {
  PG_ASSIGN_OR_RETURN(std::string name, GetString(value, "behavior", path, file));
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return file.Error(FieldPath(path, "behavior"),
                    absl::StrCat("unknown behavior \"", name,
                                 "\" (expected Removed, Isolated, MergedWithPrevious, "
                                 "MergedWithNext or Contiguous)"));
}

absl::StatusOr<std::shared_ptr<const UnicodeRegex>> CompileShared(const std::string& pattern,
                                                                  std::string_view path,
                                                                  const JsonFile& file) {
  auto regex = UnicodeRegex::Compile(pattern);
  if (!regex.ok()) return file.Error(path, std::string(regex.status().message()));
  return std::shared_ptr<const UnicodeRegex>(std::move(regex).value());
}

constexpr char kSupported[] = "Sequence, Split, ByteLevel, Metaspace, Digits";

}  // namespace

std::vector<std::pair<size_t, size_t>> SplitRanges(
    size_t text_size, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
    bool invert) {
  std::vector<Part> parts;
  size_t prev = 0;
  for (const auto& [begin, end] : matches) {
    if (prev != begin) parts.push_back({prev, begin, false});
    parts.push_back({begin, end, true});
    prev = end;
  }
  if (prev != text_size) parts.push_back({prev, text_size, false});
  if (invert) {
    for (Part& part : parts) part.is_match = !part.is_match;
  }
  std::vector<Part> out;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Part& part : parts) {
        if (!part.is_match) out.push_back(part);
      }
      break;
    case SplitBehavior::kIsolated:
      out = parts;
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Part& part : parts) {
        if (part.is_match && !previous_match && !out.empty()) {
          out.back().end = part.end;
        } else {
          out.push_back(part);
        }
        previous_match = part.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool next_match = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->is_match && !next_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        next_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Part& part : parts) {
        if (part.is_match == previous_match && !out.empty()) {
          out.back().end = part.end;
        } else {
          out.push_back(part);
        }
        previous_match = part.is_match;
      }
      break;
    }
  }
  std::vector<std::pair<size_t, size_t>> ranges;
  ranges.reserve(out.size());
  for (const Part& part : out) {
    if (part.end > part.begin) ranges.emplace_back(part.begin, part.end);
  }
  return ranges;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const Json& value,
                                                                std::string_view path,
                                                                const JsonFile& file) {
  if (value.is_null()) return std::unique_ptr<PreTokenizer>();
  PG_ASSIGN_OR_RETURN(std::string type, GetType(value, path, file));
  if (type == "Sequence") {
    PG_ASSIGN_OR_RETURN(const Json* list, RequireMember(value, "pretokenizers", path, file));
    const std::string list_path = FieldPath(path, "pretokenizers");
    if (!list->is_array()) return file.Error(list_path, "expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list->size(); ++i) {
      PG_ASSIGN_OR_RETURN(auto step, ParsePreTokenizer((*list)[i], IndexPath(list_path, i), file));
      if (step != nullptr) steps.push_back(std::move(step));
    }
    return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(steps)));
  }
  if (type == "Split") {
    PG_ASSIGN_OR_RETURN(const Json* pattern_json, RequireMember(value, "pattern", path, file));
    PG_ASSIGN_OR_RETURN(Pattern pattern,
                        Pattern::Parse(*pattern_json, FieldPath(path, "pattern"), file));
    PG_ASSIGN_OR_RETURN(SplitBehavior behavior, ParseBehavior(value, path, file));
    PG_ASSIGN_OR_RETURN(bool invert, GetBool(value, "invert", false, path, file));
    return std::unique_ptr<PreTokenizer>(
        new SplitPreTokenizer(std::move(pattern), behavior, invert));
  }
  if (type == "ByteLevel") {
    PG_ASSIGN_OR_RETURN(bool add_prefix_space,
                        GetBool(value, "add_prefix_space", true, path, file));
    PG_ASSIGN_OR_RETURN(bool use_regex, GetBool(value, "use_regex", true, path, file));
    std::shared_ptr<const UnicodeRegex> regex;
    if (use_regex) {
      PG_ASSIGN_OR_RETURN(regex, CompileShared(kGpt2Pattern, FieldPath(path, "use_regex"), file));
    }
    return std::unique_ptr<PreTokenizer>(new ByteLevelPreTokenizer(add_prefix_space, regex));
  }
  if (type == "Metaspace") {
    PG_ASSIGN_OR_RETURN(MetaspaceOptions options, ParseMetaspaceOptions(value, path, file));
    return std::unique_ptr<PreTokenizer>(new MetaspacePreTokenizer(std::move(options)));
  }
  if (type == "Digits") {
    PG_ASSIGN_OR_RETURN(bool individual, GetBool(value, "individual_digits", false, path, file));
    // Rust's char::is_numeric is \p{N}; Contiguous runs of matches equal Isolated \p{N}+.
    const Json pattern_json = {{"Regex", individual ? R"(\p{N})" : R"(\p{N}+)"}};
    PG_ASSIGN_OR_RETURN(Pattern pattern, Pattern::Parse(pattern_json, path, file));
    return std::unique_ptr<PreTokenizer>(
        new SplitPreTokenizer(std::move(pattern), SplitBehavior::kIsolated, false));
  }
  return file.Error(FieldPath(path, "type"), absl::StrCat("unsupported pre_tokenizer \"", type,
                                                          "\" (supported: ", kSupported, ")"));
}

}  // namespace prunegate::hf
