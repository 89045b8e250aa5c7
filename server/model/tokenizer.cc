#include "server/model/tokenizer.h"

#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/hf_json.h"
#include "server/model/hf_tokenizer.h"
#include "server/model/sentencepiece_tokenizer.h"

namespace prunegate {
namespace {

namespace fs = std::filesystem;
using hf::Json;
using hf::JsonFile;

// A token field: "<s>", {"content": "<s>", ...} (a serialized AddedToken) or null.
absl::StatusOr<std::optional<std::string>> ReadTokenField(const Json& root, std::string_view key,
                                                          const JsonFile& file) {
  const Json* value = hf::FindMember(root, key);
  if (value == nullptr) return std::optional<std::string>();
  if (value->is_string()) return std::optional<std::string>(value->get<std::string>());
  if (value->is_object()) {
    PG_ASSIGN_OR_RETURN(std::string content, hf::GetString(*value, "content", key, file));
    return std::optional<std::string>(std::move(content));
  }
  return file.Error(key, absl::StrCat("expected a string or an object with \"content\", got ",
                                      hf::JsonTypeName(*value)));
}

// Reads the token fields shared by tokenizer_config.json and special_tokens_map.json; fields the
// file sets overwrite those in `config`.
absl::Status ReadTokenFields(const Json& root, const JsonFile& file, TokenizerConfig* config) {
  struct Field {
    const char* key;
    std::optional<std::string>* out;
  };
  for (const Field& field :
       {Field{"bos_token", &config->bos_token}, Field{"eos_token", &config->eos_token},
        Field{"unk_token", &config->unk_token}, Field{"pad_token", &config->pad_token}}) {
    PG_ASSIGN_OR_RETURN(std::optional<std::string> value, ReadTokenField(root, field.key, file));
    if (value) *field.out = std::move(value);
  }
  if (const Json* list = hf::FindMember(root, "additional_special_tokens")) {
    if (!list->is_array()) return file.Error("additional_special_tokens", "expected an array");
    config->additional_special_tokens.clear();
    for (size_t i = 0; i < list->size(); ++i) {
      const Json& item = (*list)[i];
      const std::string path = hf::IndexPath("additional_special_tokens", i);
      if (item.is_string()) {
        config->additional_special_tokens.push_back(item.get<std::string>());
      } else if (item.is_object()) {
        PG_ASSIGN_OR_RETURN(std::string content, hf::GetString(item, "content", path, file));
        config->additional_special_tokens.push_back(std::move(content));
      } else {
        return file.Error(path, "expected a string or an object with \"content\"");
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Json>> ReadJsonIfPresent(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<Json>();
  PG_ASSIGN_OR_RETURN(std::string text, hf::ReadFileToString(path));
  const JsonFile file{path};
  PG_ASSIGN_OR_RETURN(Json root, hf::ParseJson(text, file));
  if (!root.is_object()) return file.Error("", "expected a JSON object at the top level");
  return std::optional<Json>(std::move(root));
}

}  // namespace

absl::StatusOr<TokenizerConfig> LoadTokenizerConfig(const std::string& dir) {
  TokenizerConfig config;
  const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
  const std::string map_path = (fs::path(dir) / "special_tokens_map.json").string();
  PG_ASSIGN_OR_RETURN(std::optional<Json> config_json, ReadJsonIfPresent(config_path));
  PG_ASSIGN_OR_RETURN(std::optional<Json> map_json, ReadJsonIfPresent(map_path));
  if (config_json) {
    const JsonFile file{config_path};
    PG_ASSIGN_OR_RETURN(config.add_bos_token,
                        hf::GetOptionalBool(*config_json, "add_bos_token", "", file));
    PG_ASSIGN_OR_RETURN(config.add_eos_token,
                        hf::GetOptionalBool(*config_json, "add_eos_token", "", file));
    PG_RETURN_IF_ERROR(ReadTokenFields(*config_json, file, &config));
    config.source = config_path;
  }
  if (map_json) {
    PG_RETURN_IF_ERROR(ReadTokenFields(*map_json, JsonFile{map_path}, &config));
    config.source = config_json ? absl::StrCat(config_path, " / ", map_path) : map_path;
  }
  return config;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  const std::string json_path = (fs::path(dir) / "tokenizer.json").string();
  const std::string model_path = (fs::path(dir) / "tokenizer.model").string();
  const bool has_json = fs::exists(json_path, ec);
  const bool has_model = fs::exists(model_path, ec);
  if (!has_json && !has_model) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": neither tokenizer.json nor tokenizer.model exists"));
  }
  PG_ASSIGN_OR_RETURN(TokenizerConfig config, LoadTokenizerConfig(dir));
  if (has_json) {
    PG_ASSIGN_OR_RETURN(std::unique_ptr<HfTokenizer> tokenizer,
                        HfTokenizer::Load(json_path, config));
    return std::unique_ptr<Tokenizer>(std::move(tokenizer));
  }
  PG_ASSIGN_OR_RETURN(std::unique_ptr<SentencePieceTokenizer> tokenizer,
                      SentencePieceTokenizer::Load(model_path, config));
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace prunegate
