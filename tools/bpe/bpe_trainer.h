// Byte-level BPE training: starts from the 256 byte symbols (GPT-2's byte -> printable code
// point map) and repeatedly merges the most frequent adjacent pair inside pre-tokenized words,
// with incrementally maintained pair counts, until the vocabulary is full or no pair occurs
// `min_frequency` times. Deterministic: ties go to the pair of smaller token ids. Torch-free.
#ifndef PRUNEGATE_TOOLS_BPE_BPE_TRAINER_H_
#define PRUNEGATE_TOOLS_BPE_BPE_TRAINER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace prunegate::bpe {

struct BpeTrainerOptions {
  // Total ids: 256 byte symbols + learned merges + special tokens.
  int vocab_size = 1536;
  int64_t min_frequency = 2;
  // Added after the learned tokens, in this order.
  std::vector<std::string> special_tokens = {"<|endoftext|>", "<|startoftext|>"};
};

struct TrainedBpe {
  // id -> token, in byte-level symbols ("Ġthe"): ids 0..255 are the bytes in byte order, then
  // one token per new merge result. Special tokens are not included.
  std::vector<std::string> tokens;
  // Merges in rank order, as symbol strings. Two merges can produce the same token ("a"+"bc" and
  // "ab"+"c"); the token then has one id.
  std::vector<std::pair<std::string, std::string>> merges;
  // Special tokens; special_tokens[i] has id tokens.size() + i.
  std::vector<std::string> special_tokens;

  int vocab_size() const { return static_cast<int>(tokens.size() + special_tokens.size()); }
};

// `word_counts` maps pre-tokenized pieces (raw UTF-8 bytes) to occurrences. INVALID_ARGUMENT
// when vocab_size leaves no room beyond the 256 bytes and special tokens, or a special token is
// empty or repeated.
absl::StatusOr<TrainedBpe> TrainBpe(const absl::flat_hash_map<std::string, int64_t>& word_counts,
                                    const BpeTrainerOptions& options);

}  // namespace prunegate::bpe

#endif  // PRUNEGATE_TOOLS_BPE_BPE_TRAINER_H_
