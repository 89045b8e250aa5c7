// Hugging Face `tokenizer.json` tokenizer with a BPE model: the byte-level family (GPT-2,
// Llama-3, Qwen2) and the Metaspace/SentencePiece-style family (Llama-2, Mistral).
//
// Pipeline (as in huggingface/tokenizers): added tokens are cut out of the input first
// (non-normalized ones from the raw text, normalized ones after normalization); each remaining
// segment is normalized, pre-tokenized into pieces and BPE-encoded; the post-processor's special
// tokens wrap the result when add_special_tokens is set. Decode maps ids to tokens and runs the
// decoder chain.
//
// Round trip: Decode(Encode(t, false), false) == t for any UTF-8 t whose characters the
// vocabulary covers (always with byte-level or byte_fallback vocabularies), with one exception
// that mirrors Hugging Face: with a Metaspace pre-tokenizer (prepend scheme first/always), the
// decoder drops the replacement character of the first token, so text that begins with a space
// loses that space. The Prepend-normalizer + Strip-decoder style (Llama-2) is exact even there,
// but normalizes each segment after an added token separately, so Decode inserts a space after
// a literal special token in mid-text ("a<s>b" -> "a<s> b"), as Hugging Face's legacy Llama
// tokenizer does.
#ifndef PRUNEGATE_SERVER_MODEL_HF_TOKENIZER_H_
#define PRUNEGATE_SERVER_MODEL_HF_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/tokenizer.h"

namespace prunegate {

class Bpe;
namespace hf {
struct AddedToken;
class AddedTokenMatcher;
class Decoder;
struct JsonFile;
class Normalizer;
class PreTokenizer;
struct SpecialTokenWrap;
}  // namespace hf

class HfTokenizer final : public Tokenizer {
 public:
  // Reads and parses the tokenizer.json at `path`. NOT_FOUND when it does not exist.
  static absl::StatusOr<std::unique_ptr<HfTokenizer>> Load(const std::string& path,
                                                           const TokenizerConfig& config = {});
  // Parses tokenizer.json text; `source` names the file in errors. `config` supplies BOS/EOS
  // token names and, when it sets add_bos_token or add_eos_token explicitly, replaces the
  // post-processor's special tokens with [BOS] $A [EOS] accordingly (as transformers'
  // LlamaTokenizerFast does). INVALID_ARGUMENT naming `source` and the field for malformed input,
  // for a model type other than BPE, merges naming unknown tokens, colliding or out-of-range
  // added-token ids, regexes that do not compile, and unsupported components.
  static absl::StatusOr<std::unique_ptr<HfTokenizer>> Parse(std::string_view json_text,
                                                            const std::string& source,
                                                            const TokenizerConfig& config = {});
  ~HfTokenizer() override;

  // INVALID_ARGUMENT when `text` is not well-formed UTF-8.
  absl::StatusOr<std::vector<int64_t>> Encode(std::string_view text,
                                              bool add_special_tokens = true) const override;
  // Ids inside [0, vocab_size()) that name no token (holes in the vocabulary) decode to nothing,
  // as in Hugging Face.
  absl::StatusOr<std::string> Decode(const std::vector<int64_t>& ids,
                                     bool skip_special_tokens = true) const override;
  std::string IdToPiece(int64_t id) const override;
  std::optional<int64_t> PieceToId(std::string_view piece) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(id_to_token_.size()); }
  std::optional<int64_t> bos_id() const override { return bos_id_; }
  std::optional<int64_t> eos_id() const override { return eos_id_; }
  std::string kind() const override { return "tokenizer.json"; }

 private:
  HfTokenizer();
  // Parse steps: the id -> token table (checking added-token ids), the added-token matchers, and
  // BOS/EOS plus the special tokens Encode adds (post-processor, or tokenizer_config overrides).
  absl::Status BuildIdSpace(const std::vector<hf::AddedToken>& added, const hf::JsonFile& file);
  void BuildAddedTokenMatchers(const std::vector<hf::AddedToken>& added);
  absl::Status ApplyConfig(const TokenizerConfig& config, hf::SpecialTokenWrap wrap);
  absl::Status EncodeSegment(std::string text, bool at_start, std::vector<int64_t>* ids) const;

  std::string source_;
  std::unique_ptr<Bpe> bpe_;
  std::unique_ptr<hf::Normalizer> normalizer_;
  std::unique_ptr<hf::PreTokenizer> pre_tokenizer_;
  std::unique_ptr<hf::Decoder> decoder_;
  std::unique_ptr<hf::AddedTokenMatcher> raw_added_;         // normalized=false tokens
  std::unique_ptr<hf::AddedTokenMatcher> normalized_added_;  // normalized=true tokens
  std::unordered_map<std::string, int64_t> added_ids_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_token_;  // false for holes in the id space
  std::vector<bool> special_;
  std::vector<int64_t> prefix_, suffix_;  // special tokens added around an encoding
  std::optional<int64_t> bos_id_, eos_id_;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_HF_TOKENIZER_H_
