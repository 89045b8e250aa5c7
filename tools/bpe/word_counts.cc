#include "tools/bpe/word_counts.h"

#include <algorithm>
#include <thread>

#include "server/model/unicode_regex.h"

namespace prunegate::bpe {
namespace {

bool IsSpaceByte(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The first position at or after `pos` that directly follows '\n' and holds a non-space ASCII
// byte (a safe cut), or text.size().
size_t NextCut(std::string_view text, size_t pos) {
  for (size_t i = std::max<size_t>(pos, 1); i < text.size(); ++i) {
    if (text[i - 1] == '\n' && !IsSpaceByte(text[i]) &&
        static_cast<unsigned char>(text[i]) < 0x80) {
      return i;
    }
  }
  return text.size();
}

}  // namespace

WordCounter::WordCounter(std::unique_ptr<UnicodeRegex> regex) : regex_(std::move(regex)) {}
WordCounter::WordCounter(WordCounter&&) noexcept = default;
WordCounter& WordCounter::operator=(WordCounter&&) noexcept = default;
WordCounter::~WordCounter() = default;

absl::StatusOr<WordCounter> WordCounter::Create(const std::string& pattern) {
  auto regex = UnicodeRegex::Compile(pattern);
  if (!regex.ok()) return regex.status();
  return WordCounter(std::move(regex).value());
}

absl::Status WordCounter::CountChunk(std::string_view text,
                                     absl::flat_hash_map<std::string, int64_t>* counts) const {
  // Line-sized pieces keep each regex call small (Oniguruma's cost per call is tiny).
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = NextCut(text, begin + 1);
    if (end - begin < 4096 && end < text.size()) end = NextCut(text, begin + 4096);
    const std::string_view part = text.substr(begin, end - begin);
    auto matches = regex_->FindAll(part);
    if (!matches.ok()) return matches.status();
    size_t prev = 0;  // text between matches is a piece too (Split behavior "Isolated")
    for (const auto& [b, e] : *matches) {
      if (b > prev) ++(*counts)[std::string(part.substr(prev, b - prev))];
      ++(*counts)[std::string(part.substr(b, e - b))];
      prev = e;
    }
    if (prev < part.size()) ++(*counts)[std::string(part.substr(prev))];
    begin = end;
  }
  return absl::OkStatus();
}

absl::Status WordCounter::Add(std::string_view text, int threads) {
  threads = std::max(1, std::min(threads, 16));
  std::vector<std::string_view> chunks;
  size_t begin = 0;
  for (int t = 0; t < threads && begin < text.size(); ++t) {
    const size_t end = t + 1 == threads
                           ? text.size()
                           : NextCut(text, begin + (text.size() - begin) / (threads - t));
    chunks.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  std::vector<absl::flat_hash_map<std::string, int64_t>> partial(chunks.size());
  std::vector<absl::Status> status(chunks.size());
  std::vector<std::thread> workers;
  for (size_t i = 1; i < chunks.size(); ++i) {
    workers.emplace_back([&, i] { status[i] = CountChunk(chunks[i], &partial[i]); });
  }
  if (!chunks.empty()) status[0] = CountChunk(chunks[0], &partial[0]);
  for (std::thread& w : workers) w.join();
  for (const absl::Status& s : status) {
    if (!s.ok()) return s;
  }
  for (const auto& part : partial) {
    for (const auto& [piece, count] : part) {
      counts_[piece] += count;
      total_ += count;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> WordCounter::Split(std::string_view text) const {
  auto matches = regex_->FindAll(text);
  if (!matches.ok()) return matches.status();
  std::vector<std::string> pieces;
  size_t prev = 0;
  for (const auto& [b, e] : *matches) {
    if (b > prev) pieces.emplace_back(text.substr(prev, b - prev));
    pieces.emplace_back(text.substr(b, e - b));
    prev = e;
  }
  if (prev < text.size()) pieces.emplace_back(text.substr(prev));
  return pieces;
}

}  // namespace prunegate::bpe
