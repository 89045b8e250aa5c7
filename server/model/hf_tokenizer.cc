#include "server/model/hf_tokenizer.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/bpe.h"
#include "server/model/hf_added_tokens.h"
#include "server/model/hf_decoder.h"
#include "server/model/hf_json.h"
#include "server/model/hf_normalizer.h"
#include "server/model/hf_post_processor.h"
#include "server/model/hf_pre_tokenizer.h"
#include "server/model/utf8.h"

namespace prunegate {
namespace {

using hf::FieldPath;
using hf::IndexPath;
using hf::Json;
using hf::JsonFile;

// model: {"type": "BPE", "vocab": {...}, "merges": [...], "unk_token", "fuse_unk",
// "byte_fallback", "ignore_merges", ...}.
absl::StatusOr<std::unique_ptr<Bpe>> ParseBpeModel(const Json& model, const JsonFile& file) {
  const std::string path = "model";
  PG_RETURN_IF_ERROR(hf::RequireObject(model, path, file));
  // Files written by old versions of tokenizers may omit the type of a BPE model.
  std::string type = "BPE";
  if (hf::FindMember(model, "type") != nullptr) {
    PG_ASSIGN_OR_RETURN(type, hf::GetString(model, "type", path, file));
  }
  if (type != "BPE") {
    return file.Error(FieldPath(path, "type"),
                      absl::StrCat("unsupported model type \"", type,
                                   "\" (only BPE is supported in tokenizer.json)"));
  }
  PG_ASSIGN_OR_RETURN(const Json* vocab_json, hf::RequireMember(model, "vocab", path, file));
  const std::string vocab_path = FieldPath(path, "vocab");
  if (!vocab_json->is_object()) return file.Error(vocab_path, "expected an object token -> id");
  std::unordered_map<std::string, int64_t> vocab;
  vocab.reserve(vocab_json->size());
  for (auto it = vocab_json->begin(); it != vocab_json->end(); ++it) {
    if (!it->is_number_integer()) {
      return file.Error(FieldPath(vocab_path, it.key()),
                        absl::StrCat("expected an integer id, got ", hf::JsonTypeName(*it)));
    }
    vocab.emplace(it.key(), it->get<int64_t>());
  }
  std::vector<std::pair<std::string, std::string>> merges;
  if (const Json* merges_json = hf::FindMember(model, "merges")) {
    const std::string merges_path = FieldPath(path, "merges");
    if (!merges_json->is_array()) return file.Error(merges_path, "expected an array");
    merges.reserve(merges_json->size());
    for (size_t i = 0; i < merges_json->size(); ++i) {
      const Json& merge = (*merges_json)[i];
      if (merge.is_string()) {  // "a b"
        const std::string& text = merge.get_ref<const std::string&>();
        const size_t space = text.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == text.size() ||
            text.find(' ', space + 1) != std::string::npos) {
          return file.Error(IndexPath(merges_path, i),
                            absl::StrCat("expected \"left right\", got \"", text, "\""));
        }
        merges.emplace_back(text.substr(0, space), text.substr(space + 1));
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                 merge[1].is_string()) {  // ["a", "b"]
        merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else {
        return file.Error(IndexPath(merges_path, i),
                          "expected a \"left right\" string or a [left, right] pair");
      }
    }
  }
  BpeOptions options;
  PG_ASSIGN_OR_RETURN(options.unk_token, hf::GetOptionalString(model, "unk_token", path, file));
  PG_ASSIGN_OR_RETURN(options.fuse_unk, hf::GetBool(model, "fuse_unk", false, path, file));
  PG_ASSIGN_OR_RETURN(options.byte_fallback,
                      hf::GetBool(model, "byte_fallback", false, path, file));
  PG_ASSIGN_OR_RETURN(options.ignore_merges,
                      hf::GetBool(model, "ignore_merges", false, path, file));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    PG_ASSIGN_OR_RETURN(std::optional<std::string> affix,
                        hf::GetOptionalString(model, key, path, file));
    if (affix && !affix->empty()) {
      return file.Error(FieldPath(path, key), absl::StrCat("\"", *affix, "\" is not supported"));
    }
  }
  auto bpe = Bpe::Create(std::move(vocab), merges, std::move(options));
  if (!bpe.ok()) return file.Error("", std::string(bpe.status().message()));
  return std::move(bpe).value();
}

absl::StatusOr<std::vector<hf::AddedToken>> ParseAddedTokens(const Json& root,
                                                             const JsonFile& file) {
  std::vector<hf::AddedToken> tokens;
  const Json* list = hf::FindMember(root, "added_tokens");
  if (list == nullptr) return tokens;
  const std::string path = "added_tokens";
  if (!list->is_array()) return file.Error(path, "expected an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& entry = (*list)[i];
    const std::string entry_path = IndexPath(path, i);
    PG_RETURN_IF_ERROR(hf::RequireObject(entry, entry_path, file));
    hf::AddedToken token;
    PG_ASSIGN_OR_RETURN(token.id, hf::GetInt(entry, "id", entry_path, file));
    PG_ASSIGN_OR_RETURN(token.content, hf::GetString(entry, "content", entry_path, file));
    if (token.content.empty()) return file.Error(FieldPath(entry_path, "content"), "is empty");
    PG_ASSIGN_OR_RETURN(token.special, hf::GetBool(entry, "special", false, entry_path, file));
    PG_ASSIGN_OR_RETURN(token.single_word,
                        hf::GetBool(entry, "single_word", false, entry_path, file));
    PG_ASSIGN_OR_RETURN(token.lstrip, hf::GetBool(entry, "lstrip", false, entry_path, file));
    PG_ASSIGN_OR_RETURN(token.rstrip, hf::GetBool(entry, "rstrip", false, entry_path, file));
    PG_ASSIGN_OR_RETURN(token.normalized,
                        hf::GetBool(entry, "normalized", !token.special, entry_path, file));
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// The id of a token named by tokenizer_config.json, which must exist when named.
absl::StatusOr<std::optional<int64_t>> ConfigTokenId(const HfTokenizer& tokenizer,
                                                     const std::optional<std::string>& token,
                                                     const char* field,
                                                     const TokenizerConfig& config) {
  if (!token) return std::optional<int64_t>();
  std::optional<int64_t> id = tokenizer.PieceToId(*token);
  if (!id) {
    return absl::InvalidArgumentError(absl::StrCat(config.source, ": ", field, ": \"", *token,
                                                   "\" is not in the tokenizer's vocabulary"));
  }
  return id;
}

}  // namespace

HfTokenizer::HfTokenizer() = default;
HfTokenizer::~HfTokenizer() = default;

absl::StatusOr<std::unique_ptr<HfTokenizer>> HfTokenizer::Load(const std::string& path,
                                                               const TokenizerConfig& config) {
  PG_ASSIGN_OR_RETURN(std::string text, hf::ReadFileToString(path));
  return Parse(text, path, config);
}

absl::StatusOr<std::unique_ptr<HfTokenizer>> HfTokenizer::Parse(std::string_view json_text,
                                                                const std::string& source,
                                                                const TokenizerConfig& config) {
  const JsonFile file{source};
  PG_ASSIGN_OR_RETURN(Json root, hf::ParseJson(json_text, file));
  if (!root.is_object()) return file.Error("", "expected a JSON object at the top level");
  std::unique_ptr<HfTokenizer> tok(new HfTokenizer());
  tok->source_ = source;
  PG_ASSIGN_OR_RETURN(const Json* model, hf::RequireMember(root, "model", "", file));
  PG_ASSIGN_OR_RETURN(tok->bpe_, ParseBpeModel(*model, file));
  PG_ASSIGN_OR_RETURN(std::vector<hf::AddedToken> added, ParseAddedTokens(root, file));
  PG_RETURN_IF_ERROR(tok->BuildIdSpace(added, file));
  const Json null_json;
  const auto member = [&](const char* key) -> const Json& {
    const Json* value = hf::FindMember(root, key);
    return value != nullptr ? *value : null_json;
  };
  PG_ASSIGN_OR_RETURN(tok->normalizer_,
                      hf::ParseNormalizer(member("normalizer"), "normalizer", file));
  PG_ASSIGN_OR_RETURN(tok->pre_tokenizer_,
                      hf::ParsePreTokenizer(member("pre_tokenizer"), "pre_tokenizer", file));
  PG_ASSIGN_OR_RETURN(tok->decoder_, hf::ParseDecoder(member("decoder"), "decoder", file));
  PG_ASSIGN_OR_RETURN(
      hf::SpecialTokenWrap wrap,
      hf::ParsePostProcessor(member("post_processor"), "post_processor", file, tok->vocab_size()));

  tok->BuildAddedTokenMatchers(added);
  PG_RETURN_IF_ERROR(tok->ApplyConfig(config, std::move(wrap)));
  return tok;
}

absl::Status HfTokenizer::BuildIdSpace(const std::vector<hf::AddedToken>& added,
                                       const hf::JsonFile& file) {
  // Id space: the model's ids plus the added tokens'. Added ids must stay below
  // |vocab| + |added_tokens| (there is room for every added token to be new), and may reuse a
  // model id only for the same token.
  const auto& vocab = bpe_->vocab();
  const int64_t id_bound = static_cast<int64_t>(vocab.size() + added.size());
  int64_t size = bpe_->id_limit();
  for (const auto& token : added) size = std::max(size, token.id + 1);
  if (size > id_bound) size = id_bound;
  id_to_token_.assign(size, "");
  has_token_.assign(size, false);
  special_.assign(size, false);
  for (const auto& [token, id] : vocab) {
    if (id >= size) {
      return file.Error("model.vocab",
                        absl::StrCat("token '", token, "' has id ", id, ", beyond the ", id_bound,
                                     " tokens of model.vocab and added_tokens"));
    }
    id_to_token_[id] = token;
    has_token_[id] = true;
  }
  std::vector<bool> added_seen(size, false);
  for (size_t i = 0; i < added.size(); ++i) {
    const hf::AddedToken& token = added[i];
    const std::string id_path = FieldPath(IndexPath("added_tokens", i), "id");
    if (token.id < 0 || token.id >= id_bound) {
      return file.Error(id_path, absl::StrCat("id ", token.id, " of \"", token.content,
                                              "\" is out of range [0, ", id_bound, ")"));
    }
    if (has_token_[token.id] && id_to_token_[token.id] != token.content) {
      return file.Error(id_path, absl::StrCat("id ", token.id, " of \"", token.content,
                                              "\" collides with \"", id_to_token_[token.id], "\"",
                                              added_seen[token.id] ? " (another added token)"
                                                                   : " (in model.vocab)"));
    }
    auto [it, inserted] = added_ids_.emplace(token.content, token.id);
    if (!inserted && it->second != token.id) {
      return file.Error(
          id_path, absl::StrCat("\"", token.content, "\" is already added with id ", it->second));
    }
    id_to_token_[token.id] = token.content;
    has_token_[token.id] = true;
    special_[token.id] = special_[token.id] || token.special;
    added_seen[token.id] = true;
  }
  return absl::OkStatus();
}

void HfTokenizer::BuildAddedTokenMatchers(const std::vector<hf::AddedToken>& added) {
  std::vector<hf::AddedTokenMatcher::Entry> raw, normalized;
  for (const auto& token : added) {
    if (!token.normalized || normalizer_ == nullptr) {
      (token.normalized ? normalized : raw).push_back({token.content, token});
      continue;
    }
    std::string pattern = token.content;
    auto status = normalizer_->Normalize(&pattern);
    if (!status.ok()) pattern = token.content;  // e.g. NFC of an exotic token: match it as is
    normalized.push_back({std::move(pattern), token});
  }
  raw_added_ = std::make_unique<hf::AddedTokenMatcher>(std::move(raw));
  normalized_added_ = std::make_unique<hf::AddedTokenMatcher>(std::move(normalized));
}

absl::Status HfTokenizer::ApplyConfig(const TokenizerConfig& config, hf::SpecialTokenWrap wrap) {
  // BOS/EOS: named by the config; else the post-processor's single leading special token.
  PG_ASSIGN_OR_RETURN(bos_id_, ConfigTokenId(*this, config.bos_token, "bos_token", config));
  PG_ASSIGN_OR_RETURN(eos_id_, ConfigTokenId(*this, config.eos_token, "eos_token", config));
  if (!bos_id_ && wrap.prefix.size() == 1) bos_id_ = wrap.prefix[0];
  if (config.add_bos_token.has_value() || config.add_eos_token.has_value()) {
    wrap = hf::SpecialTokenWrap();
    if (config.add_bos_token.value_or(false)) {
      if (!bos_id_) {
        return absl::InvalidArgumentError(
            absl::StrCat(config.source, ": add_bos_token: true but no bos_token is set"));
      }
      wrap.prefix.push_back(*bos_id_);
    }
    if (config.add_eos_token.value_or(false)) {
      if (!eos_id_) {
        return absl::InvalidArgumentError(
            absl::StrCat(config.source, ": add_eos_token: true but no eos_token is set"));
      }
      wrap.suffix.push_back(*eos_id_);
    }
  }
  prefix_ = std::move(wrap.prefix);
  suffix_ = std::move(wrap.suffix);
  // Config-named special tokens are special for Decode(skip_special_tokens) too.
  for (const auto& name :
       {config.bos_token, config.eos_token, config.unk_token, config.pad_token}) {
    if (!name) continue;
    if (std::optional<int64_t> id = PieceToId(*name)) special_[*id] = true;
  }
  for (const std::string& name : config.additional_special_tokens) {
    if (std::optional<int64_t> id = PieceToId(name)) special_[*id] = true;
  }
  return absl::OkStatus();
}

absl::Status HfTokenizer::EncodeSegment(std::string text, bool at_start,
                                        std::vector<int64_t>* ids) const {
  if (normalizer_ != nullptr) PG_RETURN_IF_ERROR(normalizer_->Normalize(&text));
  for (const auto& segment : normalized_added_->Split(text)) {
    if (segment.id >= 0) {
      ids->push_back(segment.id);
      continue;
    }
    std::vector<hf::Piece> pieces;
    pieces.push_back(
        {text.substr(segment.begin, segment.end - segment.begin), at_start && segment.begin == 0});
    if (pre_tokenizer_ != nullptr) PG_RETURN_IF_ERROR(pre_tokenizer_->PreTokenize(&pieces));
    for (const hf::Piece& piece : pieces) bpe_->Tokenize(piece.text, ids);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> HfTokenizer::Encode(std::string_view text,
                                                         bool add_special_tokens) const {
  size_t bad;
  if (!utf8::IsValid(text, &bad)) {
    return absl::InvalidArgumentError(
        absl::StrCat("text to encode is not well-formed UTF-8 (byte offset ", bad, ")"));
  }
  std::vector<int64_t> ids;
  if (add_special_tokens) ids = prefix_;
  for (const auto& segment : raw_added_->Split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    PG_RETURN_IF_ERROR(
        EncodeSegment(std::string(text.substr(segment.begin, segment.end - segment.begin)),
                      segment.begin == 0, &ids));
  }
  if (add_special_tokens) ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  return ids;
}

absl::StatusOr<std::string> HfTokenizer::Decode(const std::vector<int64_t>& ids,
                                                bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " (position ", i,
                                                     ") is outside the vocabulary [0, ",
                                                     vocab_size(), ") of ", source_));
    }
    if (!has_token_[id] || (skip_special_tokens && special_[id])) continue;
    tokens.push_back(id_to_token_[id]);
  }
  if (decoder_ == nullptr) return absl::StrJoin(tokens, " ");
  PG_RETURN_IF_ERROR(decoder_->DecodeChain(&tokens));
  return absl::StrJoin(tokens, "");
}

std::string HfTokenizer::IdToPiece(int64_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return id_to_token_[id];
}

std::optional<int64_t> HfTokenizer::PieceToId(std::string_view piece) const {
  auto it = added_ids_.find(std::string(piece));
  if (it != added_ids_.end()) return it->second;
  return bpe_->TokenToId(piece);
}

}  // namespace prunegate
