#include "server/model/unicode_regex.h"

#include <oniguruma.h>

#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/model/utf8.h"

namespace prunegate {
namespace {

void InitOnigurumaOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

std::string OnigMessage(int code, OnigErrorInfo* info) {
  OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
  int n =
      info != nullptr ? onig_error_code_to_str(buf, code, info) : onig_error_code_to_str(buf, code);
  if (n < 0) n = 0;
  return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

struct RegionDeleter {
  void operator()(OnigRegion* r) const { onig_region_free(r, 1); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<UnicodeRegex>> UnicodeRegex::Compile(std::string_view view) {
  const std::string pattern(view);
  if (!utf8::IsValid(pattern)) {
    return absl::InvalidArgumentError(
        absl::StrCat("regex pattern '", pattern, "' is not well-formed UTF-8"));
  }
  InitOnigurumaOnce();
  const auto* begin = reinterpret_cast<const OnigUChar*>(pattern.data());
  regex_t* regex = nullptr;
  OnigErrorInfo info;
  int r = onig_new(&regex, begin, begin + pattern.size(), ONIG_OPTION_CAPTURE_GROUP,
                   ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &info);
  if (r != ONIG_NORMAL) {
    return absl::InvalidArgumentError(
        absl::StrCat("regex pattern '", pattern, "' does not compile: ", OnigMessage(r, &info)));
  }
  return std::unique_ptr<UnicodeRegex>(new UnicodeRegex(pattern, regex));
}

UnicodeRegex::~UnicodeRegex() {
  if (regex_ != nullptr) onig_free(regex_);
}

absl::StatusOr<std::vector<std::pair<size_t, size_t>>> UnicodeRegex::FindAll(
    std::string_view text) const {
  size_t bad;
  if (!utf8::IsValid(text, &bad)) {
    return absl::InvalidArgumentError(
        absl::StrCat("text is not well-formed UTF-8 (byte offset ", bad, ")"));
  }
  std::vector<std::pair<size_t, size_t>> matches;
  std::unique_ptr<OnigRegion, RegionDeleter> region(onig_region_new());
  const auto* str = reinterpret_cast<const OnigUChar*>(text.data());
  const OnigUChar* end = str + text.size();
  size_t last_end = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (last_end <= text.size()) {
    onig_region_clear(region.get());
    int r = onig_search(regex_, str, end, str + last_end, end, region.get(), ONIG_OPTION_NONE);
    if (r == ONIG_MISMATCH) break;
    if (r < 0) {
      // E.g. Oniguruma's backtracking limit on a pathological pattern/input pair.
      return absl::InvalidArgumentError(
          absl::StrCat("regex '", pattern_, "' search failed: ", OnigMessage(r, nullptr)));
    }
    const auto s = static_cast<size_t>(region->beg[0]);
    const auto e = static_cast<size_t>(region->end[0]);
    if (s == e && have_last && last_match_end == e) {
      // Empty match right after the previous one: step over one character.
      if (last_end >= text.size()) break;
      size_t n = utf8::CharLength(text, last_end);
      last_end += n == 0 ? 1 : n;
      continue;
    }
    last_end = e;
    have_last = true;
    last_match_end = e;
    matches.emplace_back(s, e);
  }
  return matches;
}

bool IsUnicodeWhitespace(char32_t cp) {
  return ONIGENC_IS_CODE_SPACE(ONIG_ENCODING_UTF8, static_cast<OnigCodePoint>(cp)) != 0;
}

bool IsUnicodeWordChar(char32_t cp) {
  return ONIGENC_IS_CODE_WORD(ONIG_ENCODING_UTF8, static_cast<OnigCodePoint>(cp)) != 0;
}

}  // namespace prunegate
