#include "server/model/hf_decoder.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/model/byte_level.h"
#include "server/model/hf_metaspace.h"
#include "server/model/hf_pattern.h"
#include "server/model/utf8.h"

namespace prunegate::hf {
namespace {

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& step : steps_) PG_RETURN_IF_ERROR(step->DecodeChain(tokens));
    return absl::OkStatus();
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// GPT-2 symbols back to bytes; a token with a character outside the map (e.g. an added token
// containing a space) contributes its own UTF-8 bytes. Ill-formed UTF-8 becomes U+FFFD.
class ByteLevelDecoder : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& token : *tokens) {
      if (std::optional<std::string> b = byte_level::SymbolsToBytes(token)) {
        bytes += *b;
      } else {
        bytes += token;
      }
    }
    *tokens = {utf8::RepairLossy(bytes)};
    return absl::OkStatus();
  }
};

// The replacement character becomes a space, except in the first token when a prefix is
// prepended at encode time: there it is dropped (Hugging Face's convention).
class MetaspaceDecoder : public Decoder {
 public:
  explicit MetaspaceDecoder(MetaspaceOptions options) : options_(std::move(options)) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    const std::string& rep = options_.replacement;
    for (size_t i = 0; i < tokens->size(); ++i) {
      const bool drop = i == 0 && options_.prepend_scheme != PrependScheme::kNever;
      std::string& token = (*tokens)[i];
      std::string out;
      for (size_t pos = 0; pos < token.size();) {
        if (token.compare(pos, rep.size(), rep) == 0) {
          if (!drop) out.push_back(' ');
          pos += rep.size();
        } else {
          out.push_back(token[pos++]);
        }
      }
      token = std::move(out);
    }
    return absl::OkStatus();
  }

 private:
  MetaspaceOptions options_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& token : *tokens) {
      PG_ASSIGN_OR_RETURN(token, pattern_.ReplaceAll(token, content_));
    }
    return absl::OkStatus();
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Runs of <0xNN> tokens become their bytes when those form UTF-8, else one U+FFFD per byte.
class ByteFallbackDecoder : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    const auto flush = [&] {
      if (pending.empty()) return;
      if (utf8::IsValid(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.push_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (std::string& token : *tokens) {
      if (std::optional<uint8_t> byte = ParseByteToken(token)) {
        pending.push_back(static_cast<char>(*byte));
        continue;
      }
      flush();
      out.push_back(std::move(token));
    }
    flush();
    *tokens = std::move(out);
    return absl::OkStatus();
  }

 private:
  static std::optional<uint8_t> ParseByteToken(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') {
      return std::nullopt;
    }
    int value = 0;
    for (int k = 3; k < 5; ++k) {
      const char c = token[k];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else {
        return std::nullopt;
      }
      value = value * 16 + digit;
    }
    return static_cast<uint8_t>(value);
  }
};

class FuseDecoder : public Decoder {
 public:
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    *tokens = {absl::StrJoin(*tokens, "")};
    return absl::OkStatus();
  }
};

// Removes up to `start` leading and `stop` trailing copies of `content` from each token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, int64_t start, int64_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  absl::Status DecodeChain(std::vector<std::string>* tokens) const override {
    const size_t n = content_.size();
    for (std::string& token : *tokens) {
      size_t begin = 0;
      for (int64_t k = 0; k < start_ && token.compare(begin, n, content_) == 0; ++k) begin += n;
      size_t end = token.size();
      for (int64_t k = 0; k < stop_ && end >= begin + n && token.compare(end - n, n, content_) == 0;
           ++k) {
        end -= n;
      }
      token = token.substr(begin, end - begin);
    }
    return absl::OkStatus();
  }

 private:
  std::string content_;
  int64_t start_, stop_;
};

constexpr char kSupported[] = "Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip";

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const Json& value, std::string_view path,
                                                      const JsonFile& file) {
  if (value.is_null()) return std::unique_ptr<Decoder>();
  PG_ASSIGN_OR_RETURN(std::string type, GetType(value, path, file));
  if (type == "Sequence") {
    PG_ASSIGN_OR_RETURN(const Json* list, RequireMember(value, "decoders", path, file));
    const std::string list_path = FieldPath(path, "decoders");
    if (!list->is_array()) return file.Error(list_path, "expected an array");
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list->size(); ++i) {
      PG_ASSIGN_OR_RETURN(auto step, ParseDecoder((*list)[i], IndexPath(list_path, i), file));
      if (step != nullptr) steps.push_back(std::move(step));
    }
    return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(steps)));
  }
  if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (type == "Metaspace") {
    PG_ASSIGN_OR_RETURN(MetaspaceOptions options, ParseMetaspaceOptions(value, path, file));
    return std::unique_ptr<Decoder>(new MetaspaceDecoder(std::move(options)));
  }
  if (type == "Replace") {
    PG_ASSIGN_OR_RETURN(const Json* pattern_json, RequireMember(value, "pattern", path, file));
    PG_ASSIGN_OR_RETURN(Pattern pattern,
                        Pattern::Parse(*pattern_json, FieldPath(path, "pattern"), file));
    PG_ASSIGN_OR_RETURN(std::string content, GetString(value, "content", path, file));
    return std::unique_ptr<Decoder>(new ReplaceDecoder(std::move(pattern), std::move(content)));
  }
  if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (type == "Strip") {
    PG_ASSIGN_OR_RETURN(std::string content, GetString(value, "content", path, file));
    if (content.empty() || utf8::CharLength(content, 0) != content.size()) {
      return file.Error(FieldPath(path, "content"), "must be exactly one character");
    }
    PG_ASSIGN_OR_RETURN(int64_t start, GetInt(value, "start", path, file));
    PG_ASSIGN_OR_RETURN(int64_t stop, GetInt(value, "stop", path, file));
    if (start < 0 || stop < 0) return file.Error(path, "start and stop must be >= 0");
    return std::unique_ptr<Decoder>(new StripDecoder(std::move(content), start, stop));
  }
  return file.Error(FieldPath(path, "type"), absl::StrCat("unsupported decoder \"", type,
                                                          "\" (supported: ", kSupported, ")"));
}

}  // namespace prunegate::hf
