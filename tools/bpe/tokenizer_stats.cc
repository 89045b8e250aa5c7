#include "tools/bpe/tokenizer_stats.h"

#include <algorithm>
#include <vector>

#include "nlohmann/json.hpp"

namespace prunegate::bpe {
namespace {

int64_t CountWords(std::string_view text) {
  int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

}  // namespace

std::string TokenizationStats::ToJson() const {
  nlohmann::ordered_json j = {{"documents", documents},
                              {"words", words},
                              {"tokens", tokens},
                              {"bytes", bytes},
                              {"tokens_per_word", tokens_per_word},
                              {"bytes_per_token", bytes_per_token},
                              {"doc_tokens_median", doc_tokens_median},
                              {"doc_tokens_p99", doc_tokens_p99},
                              {"doc_tokens_max", doc_tokens_max},
                              {"docs_over_254", docs_over_254}};
  return j.dump();
}

absl::StatusOr<TokenizationStats> MeasureTokenization(const Tokenizer& tokenizer,
                                                      std::string_view text) {
  TokenizationStats stats;
  std::vector<int64_t> lengths;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\n\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view doc = text.substr(pos, end - pos);
    pos = end + 2;
    while (!doc.empty() && doc.back() == '\n') doc.remove_suffix(1);
    if (doc.empty()) continue;
    auto ids = tokenizer.Encode(doc, /*add_special_tokens=*/false);
    if (!ids.ok()) return ids.status();
    const int64_t n = static_cast<int64_t>(ids->size());
    lengths.push_back(n);
    stats.tokens += n;
    stats.bytes += static_cast<int64_t>(doc.size());
    stats.words += CountWords(doc);
    if (n > 254) ++stats.docs_over_254;
  }
  stats.documents = static_cast<int64_t>(lengths.size());
  if (lengths.empty()) return stats;
  std::sort(lengths.begin(), lengths.end());
  stats.doc_tokens_median = lengths[lengths.size() / 2];
  stats.doc_tokens_p99 = lengths[std::min(lengths.size() - 1, lengths.size() * 99 / 100)];
  stats.doc_tokens_max = lengths.back();
  stats.tokens_per_word =
      stats.words > 0 ? static_cast<double>(stats.tokens) / static_cast<double>(stats.words) : 0;
  stats.bytes_per_token =
      stats.tokens > 0 ? static_cast<double>(stats.bytes) / static_cast<double>(stats.tokens) : 0;
  return stats;
}

}  // namespace prunegate::bpe
