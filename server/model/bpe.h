// The byte-pair-encoding model of Hugging Face tokenizers (model.type "BPE"): a vocabulary, merges
// in rank order, optional unk token (fused or not) and SentencePiece-style byte fallback.
#ifndef PRUNEGATE_SERVER_MODEL_BPE_H_
#define PRUNEGATE_SERVER_MODEL_BPE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace prunegate {

struct BpeOptions {
  std::optional<std::string> unk_token;  // must be in the vocabulary when set
  bool fuse_unk = false;                 // consecutive unknown characters share one unk token
  bool byte_fallback = false;            // unknown characters become their <0xNN> byte tokens
  bool ignore_merges = false;            // a word that is itself in the vocabulary is one token
};

class Bpe {
 public:
  // `vocab` maps token -> id (ids unique and >= 0, not necessarily dense); `merges` are in rank
  // order (rank 0 merges first). INVALID_ARGUMENT whose message starts with the field at fault
  // ("model.merges[3]: ...", "model.vocab: ...", "model.unk_token: ...") when a merge names a
  // token missing from the vocabulary, its result is missing, ids repeat, or the unk token is
  // unknown.
  static absl::StatusOr<std::unique_ptr<Bpe>> Create(
      std::unordered_map<std::string, int64_t> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options);

  // Appends the ids of one pre-tokenized word (well-formed UTF-8). Characters that are neither
  // in the vocabulary nor covered by byte fallback become the unk token, or are dropped when
  // there is none (as Hugging Face does).
  void Tokenize(std::string_view word, std::vector<int64_t>* ids) const;

  std::optional<int64_t> TokenToId(std::string_view token) const;
  const std::unordered_map<std::string, int64_t>& vocab() const { return vocab_; }
  // 1 + the largest id in the vocabulary (0 when empty).
  int64_t id_limit() const { return id_limit_; }

 private:
  struct Merge {
    int32_t rank;
    int64_t new_id;
  };
  Bpe() = default;
  void TokenizeUncached(std::string_view word, std::vector<int64_t>* ids) const;
  void InitialSymbols(std::string_view word, std::vector<int64_t>* symbols) const;
  void MergeAll(std::vector<int64_t>* symbols) const;
  const Merge* FindMerge(int64_t a, int64_t b) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;  // key: (a << 32) | b
  std::optional<int64_t> unk_id_;
  std::vector<int64_t> byte_ids_;  // <0xNN> ids when byte_fallback and all 256 exist; else -1
  BpeOptions options_;
  int64_t id_limit_ = 0;

  // Word -> ids cache (bounded; cleared when full).
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_BPE_H_
