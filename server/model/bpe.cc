#include "server/model/bpe.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/model/utf8.h"

namespace prunegate {
namespace {

constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 16;
constexpr int64_t kMaxId = (int64_t{1} << 31) - 1;

uint64_t PairKey(int64_t a, int64_t b) {
  return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b);
}

std::string ByteToken(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Bpe>> Bpe::Create(
    std::unordered_map<std::string, int64_t> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options) {
  std::unique_ptr<Bpe> bpe(new Bpe());
  std::unordered_map<int64_t, const std::string*> seen_ids;
  for (const auto& [token, id] : vocab) {
    if (id < 0 || id > kMaxId) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.vocab: token '", token, "' has id ", id, " outside [0, 2^31)"));
    }
    auto [it, inserted] = seen_ids.emplace(id, &token);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("model.vocab: id ", id, " is used by both '",
                                                     *it->second, "' and '", token, "'"));
    }
    bpe->id_limit_ = std::max(bpe->id_limit_, id + 1);
  }
  bpe->vocab_ = std::move(vocab);
  bpe->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    auto ia = bpe->vocab_.find(a);
    auto ib = bpe->vocab_.find(b);
    const std::string merged = a + b;
    auto im = bpe->vocab_.find(merged);
    const std::string* missing = ia == bpe->vocab_.end()   ? &a
                                 : ib == bpe->vocab_.end() ? &b
                                 : im == bpe->vocab_.end() ? &merged
                                                           : nullptr;
    if (missing != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("model.merges[", rank, "] ('", a, "', '", b,
                                                     "'): token '", *missing,
                                                     "' is not in model.vocab"));
    }
    // A repeated pair keeps its last rank, as Hugging Face's map construction does.
    bpe->merges_[PairKey(ia->second, ib->second)] = Merge{static_cast<int32_t>(rank), im->second};
  }
  if (options.unk_token) {
    auto it = bpe->vocab_.find(*options.unk_token);
    if (it == bpe->vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.unk_token: '", *options.unk_token, "' is not in model.vocab"));
    }
    bpe->unk_id_ = it->second;
  }
  bpe->byte_ids_.assign(256, -1);
  if (options.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      auto it = bpe->vocab_.find(ByteToken(static_cast<uint8_t>(b)));
      if (it != bpe->vocab_.end()) bpe->byte_ids_[b] = it->second;
    }
  }
  bpe->options_ = std::move(options);
  return bpe;
}

std::optional<int64_t> Bpe::TokenToId(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const Bpe::Merge* Bpe::FindMerge(int64_t a, int64_t b) const {
  auto it = merges_.find(PairKey(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

void Bpe::Tokenize(std::string_view word, std::vector<int64_t>* ids) const {
  if (word.empty()) return;
  if (word.size() > kMaxCachedWordBytes) {
    TokenizeUncached(word, ids);
    return;
  }
  std::string key(word);
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int64_t> word_ids;
  TokenizeUncached(word, &word_ids);
  ids->insert(ids->end(), word_ids.begin(), word_ids.end());
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.emplace(std::move(key), std::move(word_ids));
}

void Bpe::TokenizeUncached(std::string_view word, std::vector<int64_t>* ids) const {
  if (options_.ignore_merges) {
    if (std::optional<int64_t> id = TokenToId(word)) {
      ids->push_back(*id);
      return;
    }
  }
  std::vector<int64_t> symbols;
  InitialSymbols(word, &symbols);
  MergeAll(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
}

void Bpe::InitialSymbols(std::string_view word, std::vector<int64_t>* symbols) const {
  bool pending_unk = false;
  const auto flush_unk = [&] {
    if (pending_unk) symbols->push_back(*unk_id_);
    pending_unk = false;
  };
  size_t i = 0;
  while (i < word.size()) {
    size_t n = utf8::CharLength(word, i);
    if (n == 0) n = 1;  // callers pass well-formed UTF-8; be safe anyway
    const std::string_view ch = word.substr(i, n);
    i += n;
    if (std::optional<int64_t> id = TokenToId(ch)) {
      flush_unk();
      symbols->push_back(*id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (char c : ch) all = all && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        flush_unk();
        for (char c : ch) symbols->push_back(byte_ids_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (!unk_id_) continue;  // no unk token: the character is dropped
    if (pending_unk && !options_.fuse_unk) flush_unk();
    pending_unk = true;
  }
  flush_unk();
}

void Bpe::MergeAll(std::vector<int64_t>* symbols) const {
  const int n = static_cast<int>(symbols->size());
  if (n < 2) return;
  struct Node {
    int64_t id;
    int prev;
    int next;
    bool alive;
  };
  std::vector<Node> nodes(n);
  for (int i = 0; i < n; ++i) nodes[i] = {(*symbols)[i], i - 1, i + 1 < n ? i + 1 : -1, true};
  struct Candidate {
    int32_t rank;
    int pos;
    int64_t new_id;
    // Lowest rank first, then leftmost.
    bool operator<(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate> queue;
  const auto push_pair = [&](int pos) {
    if (pos < 0 || nodes[pos].next < 0) return;
    if (const Merge* m = FindMerge(nodes[pos].id, nodes[nodes[pos].next].id)) {
      queue.push({m->rank, pos, m->new_id});
    }
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Node& left = nodes[top.pos];
    if (!left.alive || left.next < 0) continue;
    Node& right = nodes[left.next];
    const Merge* m = FindMerge(left.id, right.id);
    if (m == nullptr || m->rank != top.rank || m->new_id != top.new_id) continue;  // stale
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) nodes[left.next].prev = top.pos;
    push_pair(left.prev);
    push_pair(top.pos);
  }
  symbols->clear();
  for (int i = 0; i >= 0; i = nodes[i].next) symbols->push_back(nodes[i].id);
}

}  // namespace prunegate
