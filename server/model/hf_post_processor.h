// tokenizer.json `post_processor`, reduced to what single-sequence encoding needs: the special
// token ids placed before and after the sequence. Supports null, TemplateProcessing (`single`),
// ByteLevel (offsets only: adds nothing), BertProcessing, RobertaProcessing and Sequence.
// Internal.
#ifndef PRUNEGATE_SERVER_MODEL_HF_POST_PROCESSOR_H_
#define PRUNEGATE_SERVER_MODEL_HF_POST_PROCESSOR_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/hf_json.h"

namespace prunegate::hf {

struct SpecialTokenWrap {
  std::vector<int64_t> prefix;
  std::vector<int64_t> suffix;
};

// Parses the post-processor at `path`. Every id must lie in [0, vocab_size).
absl::StatusOr<SpecialTokenWrap> ParsePostProcessor(const Json& value, std::string_view path,
                                                    const JsonFile& file, int64_t vocab_size);

}  // namespace prunegate::hf

#endif  // PRUNEGATE_SERVER_MODEL_HF_POST_PROCESSOR_H_
