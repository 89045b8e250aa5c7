// Writes a trained byte-level BPE as a Hugging Face tokenizer: tokenizer.json (BPE model with
// vocab and merges, Split pre-tokenizer with the training regex followed by ByteLevel, ByteLevel
// decoder, special tokens as added tokens, a TemplateProcessing post-processor that prepends
// BOS), tokenizer_config.json and special_tokens_map.json. Loads with prunegate::LoadTokenizer
// and with transformers' PreTrainedTokenizerFast. Torch-free.
#ifndef PRUNEGATE_TOOLS_BPE_TOKENIZER_FILES_H_
#define PRUNEGATE_TOOLS_BPE_TOKENIZER_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "tools/bpe/bpe_trainer.h"

namespace prunegate::bpe {

struct TokenizerFileOptions {
  std::string split_pattern;                  // the pre-tokenizer regex the BPE was trained with
  std::string bos_token = "<|startoftext|>";  // prepended by Encode(add_special_tokens); "" = none
  std::string eos_token = "<|endoftext|>";    // also the padding token
};

// The three files' contents. bos_token and eos_token (when non-empty) must be among
// bpe.special_tokens; INVALID_ARGUMENT otherwise.
struct TokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
  std::string special_tokens_map_json;
};
absl::StatusOr<TokenizerFiles> MakeTokenizerFiles(const TrainedBpe& bpe,
                                                  const TokenizerFileOptions& options);

// Writes them into `dir` (created if needed). INTERNAL on I/O failure.
absl::Status WriteTokenizerFiles(const TrainedBpe& bpe, const TokenizerFileOptions& options,
                                 const std::string& dir);

}  // namespace prunegate::bpe

#endif  // PRUNEGATE_TOOLS_BPE_TOKENIZER_FILES_H_
