// Text <-> token ids. Torch-free. Two implementations: SentencePiece `tokenizer.model`
// (our own reader, spm_model.h) and Hugging Face `tokenizer.json` with a BPE model (byte-level
// family and Metaspace/SentencePiece-style family). `LoadTokenizer` picks one for a checkpoint
// directory.
#ifndef PRUNEGATE_SERVER_MODEL_TOKENIZER_H_
#define PRUNEGATE_SERVER_MODEL_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace prunegate {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes `text`. With `add_special_tokens`, adds what the tokenizer's configuration says
  // (BOS per tokenizer_config.json `add_bos_token` / the tokenizer.json TemplateProcessing
  // post-processor; EOS likewise). Added/special tokens written literally in `text` (e.g.
  // "<|im_start|>") are recognised and map to their ids.
  virtual absl::StatusOr<std::vector<int64_t>> Encode(std::string_view text,
                                                      bool add_special_tokens = true) const = 0;
  // Decodes ids back to text. With `skip_special_tokens`, special tokens (BOS/EOS/...) are
  // dropped. INVALID_ARGUMENT for an id outside [0, vocab_size()).
  virtual absl::StatusOr<std::string> Decode(const std::vector<int64_t>& ids,
                                             bool skip_special_tokens = true) const = 0;
  // The raw piece of one id (e.g. "▁time", "Ġthe", "<0x0A>"), for display.
  virtual std::string IdToPiece(int64_t id) const = 0;
  // The id of a raw piece (added/special tokens included), or nullopt when there is none.
  virtual std::optional<int64_t> PieceToId(std::string_view piece) const { return std::nullopt; }
  // Number of ids (model vocabulary + added tokens not in it).
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int64_t> bos_id() const = 0;
  virtual std::optional<int64_t> eos_id() const = 0;
  // "sentencepiece" or "tokenizer.json".
  virtual std::string kind() const = 0;
};

// What tokenizer_config.json and special_tokens_map.json say (every field optional). Token
// fields accept a string or an AddedToken object {"content": ...}.
struct TokenizerConfig {
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> unk_token;
  std::optional<std::string> pad_token;
  std::vector<std::string> additional_special_tokens;
  // The file(s) these came from, for error messages ("" when neither exists).
  std::string source;
};

// Reads `dir`/tokenizer_config.json and `dir`/special_tokens_map.json when present; token
// strings in special_tokens_map.json take precedence (as in transformers). INVALID_ARGUMENT
// naming the file and field for malformed JSON or mistyped fields.
absl::StatusOr<TokenizerConfig> LoadTokenizerConfig(const std::string& dir);

// Loads the tokenizer of a checkpoint directory: tokenizer.json when present, else
// tokenizer.model; reads tokenizer_config.json (add_bos_token, add_eos_token, bos/eos token
// strings or objects) and special_tokens_map.json when present. NOT_FOUND when neither tokenizer
// file exists; INVALID_ARGUMENT (naming the file and the offending field) for malformed files or
// an unsupported model type (only BPE is supported in tokenizer.json).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& dir);

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_TOKENIZER_H_
