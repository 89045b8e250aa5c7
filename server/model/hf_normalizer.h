// tokenizer.json `normalizer`: null, Sequence, Prepend, Replace, and NFC restricted to text that is
// already NFC-stable (see NfcNormalizer in the .cc). Internal.
#ifndef PRUNEGATE_SERVER_MODEL_HF_NORMALIZER_H_
#define PRUNEGATE_SERVER_MODEL_HF_NORMALIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/model/hf_json.h"

namespace prunegate::hf {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Normalizes one segment of input text (between added tokens) in place.
  virtual absl::Status Normalize(std::string* text) const = 0;
};

// Parses the normalizer at `path`; a null value gives nullptr (no normalization). Unsupported
// types are INVALID_ARGUMENT naming the type and the supported ones.
absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const Json& value,
                                                            std::string_view path,
                                                            const JsonFile& file);

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_NORMALIZER_H_
