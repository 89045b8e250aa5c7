#include "tools/bpe/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <set>

#include "absl/strings/str_cat.h"
#include "server/model/byte_level.h"

namespace prunegate::bpe {
namespace {

using Pair = uint64_t;  // (left id << 32) | right id

Pair MakePair(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t Left(Pair p) { return static_cast<int32_t>(p >> 32); }
int32_t Right(Pair p) { return static_cast<int32_t>(p & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

struct HeapEntry {
  int64_t count;
  Pair pair;
  // Max-heap on count; on ties the smaller pair (smaller left id, then right id) wins.
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : pair > o.pair;
  }
};

class Trainer {
 public:
  Trainer(const absl::flat_hash_map<std::string, int64_t>& word_counts, TrainedBpe* out)
      : out_(out) {
    for (int b = 0; b < 256; ++b) {
      const std::string symbol = byte_level::BytesToSymbols(std::string(1, static_cast<char>(b)));
      out_->tokens.push_back(symbol);
      ids_[symbol] = b;
    }
    // Words in byte order, so ids and ties never depend on hash-map iteration order.
    std::vector<std::pair<std::string, int64_t>> sorted(word_counts.begin(), word_counts.end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [piece, count] : sorted) {
      if (piece.size() < 2 || count <= 0) continue;  // nothing to merge
      Word word{{}, count};
      for (char c : piece) word.symbols.push_back(static_cast<uint8_t>(c));
      words_.push_back(std::move(word));
    }
    stamp_.assign(words_.size(), -1);
    for (int32_t w = 0; w < static_cast<int32_t>(words_.size()); ++w) {
      const Word& word = words_[w];
      for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
        const Pair p = MakePair(word.symbols[i], word.symbols[i + 1]);
        counts_[p] += word.count;
        where_[p].push_back(w);
      }
    }
    for (const auto& [pair, count] : counts_) heap_.push({count, pair});
  }

  // Learns merges until `max_tokens` tokens exist or no pair reaches `min_frequency`.
  void Run(int max_tokens, int64_t min_frequency) {
    int step = 0;
    while (static_cast<int>(out_->tokens.size()) < max_tokens && !heap_.empty()) {
      const HeapEntry top = heap_.top();
      heap_.pop();
      auto it = counts_.find(top.pair);
      if (it == counts_.end() || it->second != top.count) continue;  // stale entry
      if (top.count < min_frequency) break;
      Merge(top.pair, step++);
    }
  }

 private:
  void Merge(Pair pair, int step) {
    const int32_t a = Left(pair), b = Right(pair);
    const std::string merged = out_->tokens[a] + out_->tokens[b];
    out_->merges.emplace_back(out_->tokens[a], out_->tokens[b]);
    int32_t c;
    auto existing = ids_.find(merged);
    if (existing != ids_.end()) {
      c = existing->second;
    } else {
      c = static_cast<int32_t>(out_->tokens.size());
      out_->tokens.push_back(merged);
      ids_[merged] = c;
    }
    absl::flat_hash_map<Pair, int64_t> delta;
    const std::vector<int32_t> word_ids = std::move(where_[pair]);
    where_.erase(pair);
    for (int32_t w : word_ids) {
      if (stamp_[w] == step) continue;  // listed twice
      stamp_[w] = step;
      Word& word = words_[w];
      std::vector<int32_t>& s = word.symbols;
      bool found = false;
      for (size_t i = 0; i + 1 < s.size() && !found; ++i) found = s[i] == a && s[i + 1] == b;
      if (!found) continue;  // stale listing: an earlier merge consumed the pair
      for (size_t i = 0; i + 1 < s.size(); ++i) delta[MakePair(s[i], s[i + 1])] -= word.count;
      std::vector<int32_t> merged_symbols;
      merged_symbols.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          merged_symbols.push_back(c);
          ++i;
        } else {
          merged_symbols.push_back(s[i]);
        }
      }
      s = std::move(merged_symbols);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const Pair p = MakePair(s[i], s[i + 1]);
        delta[p] += word.count;
        if (s[i] == c || s[i + 1] == c) where_[p].push_back(w);
      }
    }
    // Apply in a fixed order so the heap (and thus tie-breaking) is deterministic.
    std::vector<std::pair<Pair, int64_t>> changes(delta.begin(), delta.end());
    std::sort(changes.begin(), changes.end());
    for (const auto& [p, d] : changes) {
      if (d == 0) continue;
      int64_t& count = counts_[p];
      count += d;
      if (count <= 0) {
        counts_.erase(p);
      } else {
        heap_.push({count, p});
      }
    }
  }

  TrainedBpe* out_;
  absl::flat_hash_map<std::string, int32_t> ids_;
  std::vector<Word> words_;
  std::vector<int> stamp_;  // last merge step that processed each word
  absl::flat_hash_map<Pair, int64_t> counts_;
  absl::flat_hash_map<Pair, std::vector<int32_t>> where_;  // pair -> words (a superset)
  std::priority_queue<HeapEntry> heap_;
};

}  // namespace

absl::StatusOr<TrainedBpe> TrainBpe(const absl::flat_hash_map<std::string, int64_t>& word_counts,
                                    const BpeTrainerOptions& options) {
  const int num_special = static_cast<int>(options.special_tokens.size());
  if (options.vocab_size <= 256 + num_special) {
    return absl::InvalidArgumentError(absl::StrCat("vocab_size ", options.vocab_size,
                                                   " leaves no room for merges (256 bytes + ",
                                                   num_special, " special tokens)"));
  }
  std::set<std::string> seen;
  for (const std::string& special : options.special_tokens) {
    if (special.empty()) return absl::InvalidArgumentError("empty special token");
    if (!seen.insert(special).second) {
      return absl::InvalidArgumentError(absl::StrCat("special token ", special, " is repeated"));
    }
  }
  TrainedBpe out;
  Trainer trainer(word_counts, &out);
  trainer.Run(options.vocab_size - num_special, std::max<int64_t>(options.min_frequency, 1));
  out.special_tokens = options.special_tokens;
  return out;
}

}  // namespace prunegate::bpe
