#include "server/model/hf_post_processor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"

namespace prunegate::hf {
namespace {

absl::Status CheckId(int64_t id, int64_t vocab_size, std::string_view path, const JsonFile& file) {
  if (id < 0 || id >= vocab_size) {
    return file.Error(
        path, absl::StrCat("token id ", id, " is outside the vocabulary [0, ", vocab_size, ")"));
  }
  return absl::OkStatus();
}

// {"single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "special_tokens":
// {"<s>": {"ids": [1], ...}}}
absl::StatusOr<SpecialTokenWrap> ParseTemplate(const Json& value, std::string_view path,
                                               const JsonFile& file, int64_t vocab_size) {
  PG_ASSIGN_OR_RETURN(const Json* single, RequireMember(value, "single", path, file));
  const std::string single_path = FieldPath(path, "single");
  if (!single->is_array()) return file.Error(single_path, "expected an array of template pieces");
  const Json* specials = FindMember(value, "special_tokens");
  const std::string specials_path = FieldPath(path, "special_tokens");
  SpecialTokenWrap wrap;
  bool seen_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& piece = (*single)[i];
    const std::string piece_path = IndexPath(single_path, i);
    PG_RETURN_IF_ERROR(RequireObject(piece, piece_path, file));
    if (FindMember(piece, "Sequence") != nullptr) {
      if (seen_sequence) return file.Error(piece_path, "a second Sequence piece");
      seen_sequence = true;
      continue;
    }
    const Json* special = FindMember(piece, "SpecialToken");
    if (special == nullptr) {
      return file.Error(piece_path, "expected a SpecialToken or Sequence piece");
    }
    const std::string special_path = FieldPath(piece_path, "SpecialToken");
    PG_RETURN_IF_ERROR(RequireObject(*special, special_path, file));
    PG_ASSIGN_OR_RETURN(std::string name, GetString(*special, "id", special_path, file));
    const Json* entry = specials != nullptr ? FindMember(*specials, name) : nullptr;
    if (entry == nullptr) {
      return file.Error(FieldPath(special_path, "id"),
                        absl::StrCat("\"", name, "\" is not listed in ", specials_path));
    }
    const std::string entry_path = FieldPath(specials_path, name);
    PG_ASSIGN_OR_RETURN(const Json* ids, RequireMember(*entry, "ids", entry_path, file));
    const std::string ids_path = FieldPath(entry_path, "ids");
    if (!ids->is_array() || ids->empty()) {
      return file.Error(ids_path, "expected a non-empty array of ids");
    }
    for (size_t k = 0; k < ids->size(); ++k) {
      const Json& id = (*ids)[k];
      if (!id.is_number_integer()) return file.Error(IndexPath(ids_path, k), "expected an id");
      PG_RETURN_IF_ERROR(CheckId(id.get<int64_t>(), vocab_size, IndexPath(ids_path, k), file));
      (seen_sequence ? wrap.suffix : wrap.prefix).push_back(id.get<int64_t>());
    }
  }
  if (!seen_sequence) return file.Error(single_path, "has no Sequence piece for the input");
  return wrap;
}

// BertProcessing / RobertaProcessing: {"cls": ["<s>", 0], "sep": ["</s>", 2]}.
absl::StatusOr<int64_t> ParsePairId(const Json& value, std::string_view key, std::string_view path,
                                    const JsonFile& file, int64_t vocab_size) {
  PG_ASSIGN_OR_RETURN(const Json* pair, RequireMember(value, key, path, file));
  const std::string pair_path = FieldPath(path, key);
  if (!pair->is_array() || pair->size() != 2 || !(*pair)[1].is_number_integer()) {
    return file.Error(pair_path, "expected [token, id]");
  }
  const int64_t id = (*pair)[1].get<int64_t>();
  PG_RETURN_IF_ERROR(CheckId(id, vocab_size, pair_path, file));
  return id;
}

}  // namespace

absl::StatusOr<SpecialTokenWrap> ParsePostProcessor(const Json& value, std::string_view path,
                                                    const JsonFile& file, int64_t vocab_size) {
  if (value.is_null()) return SpecialTokenWrap();
  PG_ASSIGN_OR_RETURN(std::string type, GetType(value, path, file));
  if (type == "ByteLevel") return SpecialTokenWrap();
  if (type == "TemplateProcessing") return ParseTemplate(value, path, file, vocab_size);
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    PG_ASSIGN_OR_RETURN(int64_t cls, ParsePairId(value, "cls", path, file, vocab_size));
    PG_ASSIGN_OR_RETURN(int64_t sep, ParsePairId(value, "sep", path, file, vocab_size));
    return SpecialTokenWrap{{cls}, {sep}};
  }
  if (type == "Sequence") {
    PG_ASSIGN_OR_RETURN(const Json* list, RequireMember(value, "processors", path, file));
    const std::string list_path = FieldPath(path, "processors");
    if (!list->is_array()) return file.Error(list_path, "expected an array");
    // Each processor wraps the output of the previous one.
    SpecialTokenWrap wrap;
    for (size_t i = 0; i < list->size(); ++i) {
      PG_ASSIGN_OR_RETURN(
          SpecialTokenWrap step,
          ParsePostProcessor((*list)[i], IndexPath(list_path, i), file, vocab_size));
      step.prefix.insert(step.prefix.end(), wrap.prefix.begin(), wrap.prefix.end());
      wrap.prefix = std::move(step.prefix);
      wrap.suffix.insert(wrap.suffix.end(), step.suffix.begin(), step.suffix.end());
    }
    return wrap;
  }
  return file.Error(FieldPath(path, "type"),
                    absl::StrCat("unsupported post_processor \"", type,
                                 "\" (supported: TemplateProcessing, ByteLevel, BertProcessing, "
                                 "RobertaProcessing, Sequence)"));
}

}  // namespace prunegate::hf
