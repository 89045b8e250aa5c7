#include "tools/bpe/tokenizer_files.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"

namespace prunegate::bpe {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

Json ByteLevelStep() {
  return Json{{"type", "ByteLevel"},
              {"add_prefix_space", false},
              {"trim_offsets", false},
              {"use_regex", false}};
}

Json AddedToken(int id, const std::string& content) {
  return Json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
              {"rstrip", false}, {"normalized", false}, {"special", true}};
}

Json BosTemplate(const std::string& bos, int bos_id) {
  const Json special = Json{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}};
  return Json{
      {"type", "TemplateProcessing"},
      {"single", Json::array({special, Json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"pair", Json::array({special, Json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                            Json{{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
                            Json{{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
      {"special_tokens",
       {{bos, {{"id", bos}, {"ids", Json::array({bos_id})}, {"tokens", Json::array({bos})}}}}}};
}

Json TokenObject(const std::string& content) {
  return Json{{"content", content},
              {"lstrip", false},
              {"normalized", false},
              {"rstrip", false},
              {"single_word", false}};
}

int SpecialId(const TrainedBpe& bpe, const std::string& token) {
  for (size_t i = 0; i < bpe.special_tokens.size(); ++i) {
    if (bpe.special_tokens[i] == token) return static_cast<int>(bpe.tokens.size() + i);
  }
  return -1;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TokenizerFiles> MakeTokenizerFiles(const TrainedBpe& bpe,
                                                  const TokenizerFileOptions& options) {
  const int bos_id = options.bos_token.empty() ? -1 : SpecialId(bpe, options.bos_token);
  const int eos_id = options.eos_token.empty() ? -1 : SpecialId(bpe, options.eos_token);
  if (!options.bos_token.empty() && bos_id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bos token ", options.bos_token, " is not a special token"));
  }
  if (!options.eos_token.empty() && eos_id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("eos token ", options.eos_token, " is not a special token"));
  }
  Json added = Json::array();
  for (const std::string& special : bpe.special_tokens) {
    added.push_back(AddedToken(SpecialId(bpe, special), special));
  }
  Json vocab = Json::object();
  for (size_t id = 0; id < bpe.tokens.size(); ++id) vocab[bpe.tokens[id]] = id;
  Json merges = Json::array();
  // "left right": byte-level symbols never contain a space, and every tokenizers version reads
  // this form.
  for (const auto& [left, right] : bpe.merges) merges.push_back(left + " " + right);
  const Json split = {{"type", "Split"},
                      {"pattern", {{"Regex", options.split_pattern}}},
                      {"behavior", "Isolated"},
                      {"invert", false}};

  Json root = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}};
  root["added_tokens"] = std::move(added);
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers", Json::array({split, ByteLevelStep()})}};
  root["post_processor"] = bos_id >= 0 ? BosTemplate(options.bos_token, bos_id) : ByteLevelStep();
  root["decoder"] = ByteLevelStep();
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"vocab", std::move(vocab)},
                   {"merges", std::move(merges)}};

  Json config = Json::object();
  config["add_bos_token"] = bos_id >= 0;
  config["add_eos_token"] = false;
  Json decoder = Json::object();
  for (const std::string& special : bpe.special_tokens) {
    Json entry = TokenObject(special);
    entry["special"] = true;
    decoder[std::to_string(SpecialId(bpe, special))] = std::move(entry);
  }
  config["added_tokens_decoder"] = std::move(decoder);
  config["bos_token"] = bos_id >= 0 ? Json(options.bos_token) : Json(nullptr);
  config["eos_token"] = eos_id >= 0 ? Json(options.eos_token) : Json(nullptr);
  config["pad_token"] = eos_id >= 0 ? Json(options.eos_token) : Json(nullptr);
  config["unk_token"] = nullptr;
  config["clean_up_tokenization_spaces"] = false;
  config["model_max_length"] = 1000000000;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";

  Json map = Json::object();
  if (bos_id >= 0) map["bos_token"] = TokenObject(options.bos_token);
  if (eos_id >= 0) {
    map["eos_token"] = TokenObject(options.eos_token);
    map["pad_token"] = TokenObject(options.eos_token);
  }

  TokenizerFiles files;
  try {
    files.tokenizer_json = root.dump(1, ' ', false, Json::error_handler_t::strict) + "\n";
    files.tokenizer_config_json = config.dump(2) + "\n";
    files.special_tokens_map_json = map.dump(2) + "\n";
  } catch (const Json::exception& e) {
    return absl::InternalError(absl::StrCat("cannot serialize the tokenizer: ", e.what()));
  }
  return files;
}

absl::Status WriteTokenizerFiles(const TrainedBpe& bpe, const TokenizerFileOptions& options,
                                 const std::string& dir) {
  PG_ASSIGN_OR_RETURN(TokenizerFiles files, MakeTokenizerFiles(bpe, options));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const fs::path root(dir);
  PG_RETURN_IF_ERROR(WriteFile((root / "tokenizer.json").string(), files.tokenizer_json));
  PG_RETURN_IF_ERROR(
      WriteFile((root / "tokenizer_config.json").string(), files.tokenizer_config_json));
  return WriteFile((root / "special_tokens_map.json").string(), files.special_tokens_map_json);
}

}  // namespace prunegate::bpe
