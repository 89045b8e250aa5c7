// tokenizer.json `decoder`: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip and Sequence.
// A decoder rewrites the list of token strings; the decoded text is their concatenation.
// Internal.
#ifndef PRUNEGATE_SERVER_MODEL_HF_DECODER_H_
#define PRUNEGATE_SERVER_MODEL_HF_DECODER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/hf_json.h"

namespace prunegate::hf {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual absl::Status DecodeChain(std::vector<std::string>* tokens) const = 0;
};

// Parses the decoder at `path`; a null value gives nullptr (Hugging Face then joins the tokens
// with single spaces).
absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const Json& value, std::string_view path,
                                                      const JsonFile& file);

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_DECODER_H_
