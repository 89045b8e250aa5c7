// SentencePiece `tokenizer.model` tokenizer (our SpmCodec; see spm_model.h for why not
// libsentencepiece), e.g. Llama-2 and llama2.c's
// stories models. BOS/EOS are added per tokenizer_config.json add_bos_token (default true) and
// add_eos_token (default false). Control and unknown pieces written literally in the text
// ("<s>", "</s>", "<unk>") and config-named special tokens map to their ids; the text between
// them is encoded piecewise, each piece with SentencePiece's own dummy prefix (as Hugging Face's
// legacy LlamaTokenizer does).
#ifndef PRUNEGATE_SERVER_MODEL_SENTENCEPIECE_TOKENIZER_H_
#define PRUNEGATE_SERVER_MODEL_SENTENCEPIECE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/tokenizer.h"

namespace prunegate {
class SpmCodec;
namespace hf {
class AddedTokenMatcher;
}  // namespace hf

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // NOT_FOUND when `model_path` does not exist; INVALID_ARGUMENT when it is not a SentencePiece
  // model, or when the config asks for BOS/EOS the model lacks.
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Load(
      const std::string& model_path, const TokenizerConfig& config = {});
  ~SentencePieceTokenizer() override;

  absl::StatusOr<std::vector<int64_t>> Encode(std::string_view text,
                                              bool add_special_tokens = true) const override;
  // Without skip_special_tokens, special tokens appear as their piece text between the decoded
  // runs of ordinary ids.
  absl::StatusOr<std::string> Decode(const std::vector<int64_t>& ids,
                                     bool skip_special_tokens = true) const override;
  std::string IdToPiece(int64_t id) const override;
  std::optional<int64_t> PieceToId(std::string_view piece) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> bos_id() const override { return bos_id_; }
  std::optional<int64_t> eos_id() const override { return eos_id_; }
  std::string kind() const override { return "sentencepiece"; }

 private:
  SentencePieceTokenizer();
  bool IsSpecial(int64_t id) const;

  std::string source_;
  std::unique_ptr<SpmCodec> sp_;
  std::unique_ptr<hf::AddedTokenMatcher> specials_;
  std::vector<bool> special_;
  std::optional<int64_t> bos_id_, eos_id_;
  bool add_bos_ = true;
  bool add_eos_ = false;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_SENTENCEPIECE_TOKENIZER_H_
