// Validation and resolution of the fields probe requests share: the model pair, prompts given as
// text or token ids, temperature lists, top-k, item counts. Every error names the request field.
// Torch-free header.
#ifndef PRUNEGATE_SERVER_SERVICE_REQUEST_INPUTS_H_
#define PRUNEGATE_SERVER_SERVICE_REQUEST_INPUTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "prunegate/v1/prunegate.pb.h"
#include "server/service/limits.h"
#include "server/service/registry.h"

namespace prunegate::service {

struct ModelPair {
  std::shared_ptr<const ResidentModel> baseline;
  std::shared_ptr<const ResidentModel> candidate;
  // The tokenizer texts are encoded and decoded with: the baseline's, else the candidate's.
  std::shared_ptr<const Tokenizer> tokenizer;
};

// Both models READY (NOT_FOUND for an unknown name, FAILED_PRECONDITION when not READY) and
// sharing a vocabulary (INVALID_ARGUMENT). Empty names are INVALID_ARGUMENT.
absl::StatusOr<ModelPair> ResolvePair(const ModelRegistry& registry, const std::string& baseline,
                                      const std::string& candidate);

// FAILED_PRECONDITION when neither model of the pair has a tokenizer (texts cannot be encoded).
absl::Status RequireTokenizer(const ModelPair& pair, const char* field);

// The token ids of `input` (`field` names it in errors): text encoded with the pair's tokenizer
// (special tokens added), or ids checked against the vocabulary. INVALID_ARGUMENT for an unset
// or empty input and ids out of range; RESOURCE_EXHAUSTED beyond --max-prompt-tokens.
absl::StatusOr<std::vector<int64_t>> ResolveInput(const v1::Input& input, const ModelPair& pair,
                                                  const RequestLimits& limits, const char* field);

// [1.0] when empty; INVALID_ARGUMENT for a T that is not finite and > 0; RESOURCE_EXHAUSTED
// beyond --max-temperatures.
absl::StatusOr<std::vector<double>> ResolveTemperatures(
    const google::protobuf::RepeatedField<double>& temperatures, const RequestLimits& limits,
    const char* field = "temperatures");

// `fallback` when 0; INVALID_ARGUMENT when negative.
absl::StatusOr<int64_t> ResolvePositive(int64_t value, int64_t fallback, const char* field);

// RESOURCE_EXHAUSTED when `count` exceeds --max-items.
absl::Status CheckItemCount(const char* field, int64_t count, const RequestLimits& limits);

// Decodes ids with the pair's tokenizer (special tokens kept when `keep_special`); "" without
// a tokenizer or for ids it cannot decode.
std::string DecodeIds(const ModelPair& pair, const std::vector<int64_t>& ids, bool keep_special);

// Tokens `texts` encode to with the pair's tokenizer (for the forward-token metric).
int64_t CountTokens(const ModelPair& pair, const std::vector<std::string>& texts);

// The ids that end a sequence: the baseline's config eos_token_ids and the tokenizer's EOS.
std::vector<int64_t> StopIds(const ModelPair& pair);

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_REQUEST_INPUTS_H_
