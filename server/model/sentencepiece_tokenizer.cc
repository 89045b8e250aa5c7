#include "server/model/sentencepiece_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/hf_added_tokens.h"
#include "server/model/spm_model.h"

namespace prunegate {

SentencePieceTokenizer::SentencePieceTokenizer() = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Load(
    const std::string& model_path, const TokenizerConfig& config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) {
    return absl::NotFoundError(absl::StrCat(model_path, ": no such file"));
  }
  std::unique_ptr<SentencePieceTokenizer> tok(new SentencePieceTokenizer());
  tok->source_ = model_path;
  std::ifstream in(model_path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat(model_path, ": cannot read"));
  }
  PG_ASSIGN_OR_RETURN(SpmModel model, ParseSpmModel(bytes, model_path));
  tok->sp_ = std::make_unique<SpmCodec>(std::move(model));
  const int64_t size = tok->sp_->model().pieces.size();

  // Special pieces: control and unknown pieces, plus tokens the config names.
  tok->special_.assign(size, false);
  for (int64_t id = 0; id < size; ++id) {
    const SpmModel::PieceType type = tok->sp_->model().pieces[id].type;
    tok->special_[id] =
        type == SpmModel::PieceType::kControl || type == SpmModel::PieceType::kUnknown;
  }
  const auto lookup = [&](const std::optional<std::string>& piece,
                          const char* field) -> absl::StatusOr<std::optional<int64_t>> {
    if (!piece) return std::optional<int64_t>();
    std::optional<int64_t> id = tok->PieceToId(*piece);
    if (!id) {
      return absl::InvalidArgumentError(absl::StrCat(config.source, ": ", field, ": \"", *piece,
                                                     "\" is not a piece of ", model_path));
    }
    tok->special_[*id] = true;
    return id;
  };
  PG_ASSIGN_OR_RETURN(tok->bos_id_, lookup(config.bos_token, "bos_token"));
  PG_ASSIGN_OR_RETURN(tok->eos_id_, lookup(config.eos_token, "eos_token"));
  PG_RETURN_IF_ERROR(lookup(config.unk_token, "unk_token").status());
  PG_RETURN_IF_ERROR(lookup(config.pad_token, "pad_token").status());
  for (const std::string& piece : config.additional_special_tokens) {
    if (std::optional<int64_t> id = tok->PieceToId(piece)) tok->special_[*id] = true;
  }
  if (!tok->bos_id_ && tok->sp_->model().bos_id >= 0) tok->bos_id_ = tok->sp_->model().bos_id;
  if (!tok->eos_id_ && tok->sp_->model().eos_id >= 0) tok->eos_id_ = tok->sp_->model().eos_id;
  tok->add_bos_ = config.add_bos_token.value_or(true);
  tok->add_eos_ = config.add_eos_token.value_or(false);
  if (tok->add_bos_ && !tok->bos_id_) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path, ": add_bos_token is on (the default) but the model has no BOS piece"));
  }
  if (tok->add_eos_ && !tok->eos_id_) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": add_eos_token is on but the model has no EOS piece"));
  }
  std::vector<hf::AddedTokenMatcher::Entry> entries;
  for (int64_t id = 0; id < size; ++id) {
    if (!tok->special_[id]) continue;
    hf::AddedToken token;
    token.id = id;
    token.content = tok->sp_->model().pieces[id].text;
    token.special = true;
    token.normalized = false;
    if (!token.content.empty()) entries.push_back({token.content, token});
  }
  tok->specials_ = std::make_unique<hf::AddedTokenMatcher>(std::move(entries));
  return tok;
}

int64_t SentencePieceTokenizer::vocab_size() const { return sp_->model().pieces.size(); }

bool SentencePieceTokenizer::IsSpecial(int64_t id) const { return special_[id]; }

absl::StatusOr<std::vector<int64_t>> SentencePieceTokenizer::Encode(std::string_view text,
                                                                    bool add_special_tokens) const {
  std::vector<int64_t> ids;
  if (add_special_tokens && add_bos_) ids.push_back(*bos_id_);
  for (const auto& segment : specials_->Split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    if (segment.end == segment.begin) continue;
    const std::vector<int64_t> piece_ids =
        sp_->Encode(text.substr(segment.begin, segment.end - segment.begin));
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
  if (add_special_tokens && add_eos_) ids.push_back(*eos_id_);
  return ids;
}

absl::StatusOr<std::string> SentencePieceTokenizer::Decode(const std::vector<int64_t>& ids,
                                                           bool skip_special_tokens) const {
  const int64_t size = vocab_size();
  std::string text;
  std::vector<int64_t> run;
  const auto flush = [&]() -> absl::Status {
    if (run.empty()) return absl::OkStatus();
    text += sp_->Decode(run);
    run.clear();
    return absl::OkStatus();
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= size) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " (position ", i,
                                                     ") is outside the vocabulary [0, ", size,
                                                     ") of ", source_));
    }
    if (!IsSpecial(id)) {
      run.push_back(id);
      continue;
    }
    if (skip_special_tokens) continue;
    PG_RETURN_IF_ERROR(flush());
    text += sp_->model().pieces[id].text;
  }
  PG_RETURN_IF_ERROR(flush());
  return text;
}

std::string SentencePieceTokenizer::IdToPiece(int64_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return sp_->model().pieces[id].text;
}

std::optional<int64_t> SentencePieceTokenizer::PieceToId(std::string_view piece) const {
  const int64_t id = sp_->PieceToId(piece);
  if (id < 0) return std::nullopt;
  return id;
}

}  // namespace prunegate
