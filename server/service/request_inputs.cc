#include "server/service/request_inputs.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/model.h"
#include "server/model/tokenizer.h"

namespace prunegate::service {

absl::StatusOr<ModelPair> ResolvePair(const ModelRegistry& registry, const std::string& baseline,
                                      const std::string& candidate) {
  if (baseline.empty()) return absl::InvalidArgumentError("baseline: no model name given");
  if (candidate.empty()) return absl::InvalidArgumentError("candidate: no model name given");
  ModelPair pair;
  PG_ASSIGN_OR_RETURN(pair.baseline, registry.Get(baseline));
  PG_ASSIGN_OR_RETURN(pair.candidate, registry.Get(candidate));
  const int64_t va = pair.baseline->model->config().vocab_size;
  const int64_t vb = pair.candidate->model->config().vocab_size;
  if (va != vb) {
    return absl::InvalidArgumentError(absl::StrCat(
        "baseline ", baseline, " and candidate ", candidate, " have different vocabularies (", va,
        " vs ", vb, " tokens); a pair must share its tokenizer"));
  }
  pair.tokenizer =
      pair.baseline->tokenizer != nullptr ? pair.baseline->tokenizer : pair.candidate->tokenizer;
  return pair;
}

absl::Status RequireTokenizer(const ModelPair& pair, const char* field) {
  if (pair.tokenizer != nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(field, ": neither ", pair.baseline->info.name,
                                                    " nor ", pair.candidate->info.name,
                                                    " has a tokenizer, so text cannot be encoded"));
}

absl::StatusOr<std::vector<int64_t>> ResolveInput(const v1::Input& input, const ModelPair& pair,
                                                  const RequestLimits& limits, const char* field) {
  std::vector<int64_t> ids;
  switch (input.kind_case()) {
    case v1::Input::KIND_NOT_SET:
      return absl::InvalidArgumentError(absl::StrCat(field, ": give text or token ids"));
    case v1::Input::kText: {
      if (input.text().empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
      PG_RETURN_IF_ERROR(RequireTokenizer(pair, field));
      PG_ASSIGN_OR_RETURN(ids, pair.tokenizer->Encode(input.text(), /*add_special_tokens=*/true));
      if (ids.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(field, " encodes to no tokens"));
      }
      break;
    }
    case v1::Input::kIds: {
      if (input.ids().ids().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".ids is empty"));
      }
      const int64_t vocab = pair.baseline->model->config().vocab_size;
      for (int i = 0; i < input.ids().ids_size(); ++i) {
        const int64_t id = input.ids().ids(i);
        if (id < 0 || id >= vocab) {
          return absl::InvalidArgumentError(absl::StrCat(
              field, ".ids[", i, "] = ", id, " is outside the vocabulary [0, ", vocab, ")"));
        }
      }
      ids.assign(input.ids().ids().begin(), input.ids().ids().end());
      break;
    }
  }
  PG_RETURN_IF_ERROR(CheckLimit(absl::StrCat(field, " tokens").c_str(),
                                static_cast<int64_t>(ids.size()), limits.max_prompt_tokens,
                                "--max-prompt-tokens"));
  return ids;
}

absl::StatusOr<std::vector<double>> ResolveTemperatures(
    const google::protobuf::RepeatedField<double>& temperatures, const RequestLimits& limits,
    const char* field) {
  if (temperatures.empty()) return std::vector<double>{1.0};
  PG_RETURN_IF_ERROR(
      CheckLimit(field, temperatures.size(), limits.max_temperatures, "--max-temperatures"));
  for (int i = 0; i < temperatures.size(); ++i) {
    const double t = temperatures.Get(i);
    if (!std::isfinite(t) || t <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "] = ", t, ": a temperature must be finite and > 0"));
    }
  }
  return std::vector<double>(temperatures.begin(), temperatures.end());
}

absl::StatusOr<int64_t> ResolvePositive(int64_t value, int64_t fallback, const char* field) {
  if (value < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be >= 0, got ", value));
  }
  return value == 0 ? fallback : value;
}

absl::Status CheckItemCount(const char* field, int64_t count, const RequestLimits& limits) {
  return CheckLimit(field, count, limits.max_items, "--max-items");
}

std::string DecodeIds(const ModelPair& pair, const std::vector<int64_t>& ids, bool keep_special) {
  if (pair.tokenizer == nullptr || ids.empty()) return "";
  absl::StatusOr<std::string> text = pair.tokenizer->Decode(ids, !keep_special);
  return text.ok() ? *text : "";
}

int64_t CountTokens(const ModelPair& pair, const std::vector<std::string>& texts) {
  if (pair.tokenizer == nullptr) return 0;
  int64_t tokens = 0;
  for (const std::string& text : texts) {
    absl::StatusOr<std::vector<int64_t>> ids = pair.tokenizer->Encode(text, true);
    if (ids.ok()) tokens += static_cast<int64_t>(ids->size());
  }
  return tokens;
}

std::vector<int64_t> StopIds(const ModelPair& pair) {
  std::vector<int64_t> stop = pair.baseline->model->config().eos_token_ids;
  if (pair.tokenizer != nullptr && pair.tokenizer->eos_id()) {
    const int64_t eos = *pair.tokenizer->eos_id();
    if (std::find(stop.begin(), stop.end(), eos) == stop.end()) stop.push_back(eos);
  }
  return stop;
}

}  // namespace prunegate::service
