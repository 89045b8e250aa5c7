// Tokenizers: the real stories260K SentencePiece model against its goldens, the four tokenizer.json
// fixtures (Qwen2 / Llama-3 byte-level, Llama-2 / Mistral Metaspace) for round trips and
// hand-computed encodings, the building blocks (byte map, regex, BPE, split behaviours), and
// errors for malformed files.
#include "server/model/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/model/bpe.h"
#include "server/model/byte_level.h"
#include "server/model/hf_added_tokens.h"
#include "server/model/hf_pre_tokenizer.h"
#include "server/model/unicode_regex.h"
#include "tests/fixtures/fixture_tokenizers.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::prunegate::testing::TokenizerFixture;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Pieces(const Tokenizer& tok, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(tok.IdToPiece(id));
  return out;
}

std::unique_ptr<Tokenizer> LoadFixture(TokenizerFixture fixture, bool merges_as_pairs = false) {
  const std::string dir = testing::MakeTempDir("tokenizer_fixture");
  EXPECT_THAT(testing::WriteTokenizerFixture(dir, fixture, merges_as_pairs), IsOk());
  auto tok = LoadTokenizer(dir);
  EXPECT_THAT(tok, IsOk());
  return tok.ok() ? std::move(tok).value() : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Real model: stories260K (SentencePiece) against goldens produced by llama2.c's run.c.

TEST(SentencePieceGoldenTest, EncodesPromptsAndDecodesGenerations) {
  PG_SHARED_DIR_OR_SKIP(shared);
  PG_ASSERT_OK_AND_ASSIGN(auto tok, LoadTokenizer(shared + "/models/stories260K"));
  EXPECT_EQ(tok->kind(), "sentencepiece");
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  for (const char* name : {"p0_bos", "p1_once", "p2_park", "p3_quote"}) {
    SCOPED_TRACE(name);
    const Json golden =
        Json::parse(ReadAll(shared + "/goldens/stories260K/" + std::string(name) + ".json"));
    const std::string prompt = golden["prompt"];
    const auto prompt_ids = golden["prompt_ids"].get<std::vector<int64_t>>();
    const auto generated_ids = golden["generated_ids"].get<std::vector<int64_t>>();
    const auto all_ids = golden["all_ids"].get<std::vector<int64_t>>();
    // run.c's decode of prompt + generation (BOS not printed).
    const std::string full_text = golden["generated_text_runc_decode"];

    PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok->Encode(prompt));
    EXPECT_EQ(ids, prompt_ids);
    PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> bare, tok->Encode(prompt, false));
    EXPECT_EQ(bare, std::vector<int64_t>(prompt_ids.begin() + 1, prompt_ids.end()));

    PG_ASSERT_OK_AND_ASSIGN(std::string all_text, tok->Decode(all_ids));
    EXPECT_EQ(all_text, full_text);
    PG_ASSERT_OK_AND_ASSIGN(std::string prompt_text, tok->Decode(prompt_ids));
    EXPECT_EQ(prompt_text, prompt);
    // The generation alone: the rest of the text, less the leading space SentencePiece drops
    // from the first piece of a decode.
    ASSERT_EQ(full_text.compare(0, prompt.size(), prompt), 0);
    std::string rest = full_text.substr(prompt.size());
    if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
    PG_ASSERT_OK_AND_ASSIGN(std::string generated_text, tok->Decode(generated_ids));
    EXPECT_EQ(generated_text, rest);
  }
}

TEST(SentencePieceGoldenTest, SpecialTokensAndErrors) {
  PG_SHARED_DIR_OR_SKIP(shared);
  PG_ASSERT_OK_AND_ASSIGN(auto tok, LoadTokenizer(shared + "/models/stories260K"));
  // "<s>" / "</s>" written literally are the control ids.
  PG_ASSERT_OK_AND_ASSIGN(auto ids, tok->Encode("Once upon</s>", false));
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(tok->PieceToId("</s>"), 2);
  EXPECT_EQ(tok->PieceToId("no such piece"), std::nullopt);
  EXPECT_THAT(tok->Decode({1, 403, 512}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("512")));
  EXPECT_THAT(tok->Decode({-1}), StatusIs(absl::StatusCode::kInvalidArgument));
  PG_ASSERT_OK_AND_ASSIGN(std::string with_specials, tok->Decode({1, 403, 407, 2}, false));
  EXPECT_EQ(with_specials, "<s>Once upon</s>");
}

// SentencePiece applies the model's own normalization (stories260K collapses whitespace runs and
// drops leading/trailing spaces); other text, byte-fallback characters included, round-trips.
TEST(SentencePieceGoldenTest, RoundTripsModuloModelNormalization) {
  PG_SHARED_DIR_OR_SKIP(shared);
  PG_ASSERT_OK_AND_ASSIGN(auto tok, LoadTokenizer(shared + "/models/stories260K"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xCE\xA9",
       "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xCE\xA9"},
      {"12345 67.89", "12345 67.89"},
      {"\xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
       "\xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"},
      {"a  b\t\tc\n\n d   ", "a b\t\tc\n\n d"},
  };
  for (const auto& [text, expected] : cases) {
    PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok->Encode(text, false));
    PG_ASSERT_OK_AND_ASSIGN(std::string decoded, tok->Decode(ids));
    EXPECT_EQ(decoded, expected);
  }
}

TEST(SentencePieceGoldenTest, PrefersTokenizerJsonAndRejectsGarbageModel) {
  PG_SHARED_DIR_OR_SKIP(shared);
  const std::string dir = testing::MakeTempDir("tok_both");
  ASSERT_THAT(testing::WriteByteLevelTokenizerFixture(dir), IsOk());
  fs::copy_file(shared + "/models/stories260K/tokenizer.model", dir + "/tokenizer.model");
  PG_ASSERT_OK_AND_ASSIGN(auto tok, LoadTokenizer(dir));
  EXPECT_EQ(tok->kind(), "tokenizer.json");

  const std::string bad = testing::MakeTempDir("tok_bad_model");
  ASSERT_THAT(testing::WriteTokenizerFile(bad + "/tokenizer.model", "not a protobuf"), IsOk());
  EXPECT_THAT(LoadTokenizer(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tokenizer.model")));
}

// ---------------------------------------------------------------------------------------------
// Fixtures: every family round-trips.

class FixtureTest : public ::testing::TestWithParam<TokenizerFixture> {
 protected:
  void SetUp() override {
    tok_ = LoadFixture(GetParam());
    ASSERT_NE(tok_, nullptr);
  }
  bool mistral() const { return GetParam() == TokenizerFixture::kMistralMetaspace; }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_P(FixtureTest, RoundTripsArbitraryText) {
  const std::vector<std::string> texts = {
      "Hello world",
      "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xCE\xA9",  // café 中文 Ω
      "a  b\t\tc\n\n d   ",
      "12345 67.89",
      "\xF0\x9F\x99\x82\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",  // 🙂👍🏽
      "It's 'quoted' -- and \"double\"!\r\n\ttabbed\n",
      "QXZ's QQ #QXZ",
      testing::TokenizerFixtureCorpus(),
      "",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok_->Encode(text, false));
    PG_ASSERT_OK_AND_ASSIGN(std::string decoded, tok_->Decode(ids, false));
    EXPECT_EQ(decoded, text);
  }
}

// Random strings over ASCII (with tabs, newlines, CR), Latin-1, Greek, CJK and emoji.
TEST_P(FixtureTest, RoundTripsRandomUnicode) {
  struct Range {
    char32_t lo, hi;
  };
  const Range ranges[] = {{0x20, 0x7E},   {0x09, 0x0A},     {0x0D, 0x0D},      {0xA0, 0xFF},
                          {0x391, 0x3C9}, {0x4E00, 0x4E50}, {0x1F600, 0x1F64F}};
  std::mt19937 rng(1234);
  for (int n = 0; n < 200; ++n) {
    std::string text;
    const int length = static_cast<int>(rng() % 40);
    for (int k = 0; k < length; ++k) {
      const Range& r = ranges[rng() % std::size(ranges)];
      char32_t cp = r.lo + rng() % (r.hi - r.lo + 1);
      if (mistral() && k == 0 && cp == ' ') cp = 'x';  // see LeadingSpaceConvention
      std::string utf8;
      if (cp < 0x80) {
        utf8 = std::string(1, static_cast<char>(cp));
      } else if (cp < 0x800) {
        utf8 = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
      } else if (cp < 0x10000) {
        utf8 = {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                static_cast<char>(0x80 | (cp & 0x3F))};
      } else {
        utf8 = {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                static_cast<char>(0x80 | (cp & 0x3F))};
      }
      text += utf8;
    }
    PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok_->Encode(text, false));
    PG_ASSERT_OK_AND_ASSIGN(std::string decoded, tok_->Decode(ids));
    ASSERT_EQ(decoded, text);
  }
}

TEST_P(FixtureTest, LongInput) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += testing::TokenizerFixtureCorpus() + "\n";
  PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok_->Encode(text, false));
  PG_ASSERT_OK_AND_ASSIGN(std::string decoded, tok_->Decode(ids));
  EXPECT_EQ(decoded, text);
}

TEST_P(FixtureTest, LeadingSpaceConvention) {
  PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok_->Encode("  two spaces", false));
  PG_ASSERT_OK_AND_ASSIGN(std::string decoded, tok_->Decode(ids));
  // Metaspace pre-tokenizer + Metaspace decoder drop one leading space (Hugging Face does too).
  EXPECT_EQ(decoded, mistral() ? " two spaces" : "  two spaces");
}

TEST_P(FixtureTest, MergesReallyHappen) {
  const std::string& corpus = testing::TokenizerFixtureCorpus();
  PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok_->Encode(corpus, false));
  EXPECT_LT(ids.size(), corpus.size() / 3);
  EXPECT_GT(tok_->vocab_size(), 400);
}

TEST_P(FixtureTest, SpecialTokensWrittenLiterally) {
  const bool byte_level = testing::IsByteLevel(GetParam());
  const std::string special = GetParam() == TokenizerFixture::kQwen2ByteLevel    ? "<|im_start|>"
                              : GetParam() == TokenizerFixture::kLlama3ByteLevel ? "<|eot_id|>"
                                                                                 : "</s>";
  const std::string text = "Hi there" + special + "user\nnext " + special + " end";
  PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> ids, tok_->Encode(text, false));
  const std::optional<int64_t> special_id = tok_->PieceToId(special);
  ASSERT_TRUE(special_id.has_value());
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *special_id), 2);
  PG_ASSERT_OK_AND_ASSIGN(std::string decoded, tok_->Decode(ids, /*skip_special_tokens=*/false));
  if (GetParam() == TokenizerFixture::kLlama2Metaspace) {
    // Legacy Llama-2: each segment after a special token is normalized with its own "▁" prefix.
    EXPECT_EQ(decoded, "Hi there" + special + " user\nnext " + special + "  end");
  } else {
    EXPECT_EQ(decoded, text);
  }
  PG_ASSERT_OK_AND_ASSIGN(std::string skipped, tok_->Decode(ids));
  EXPECT_EQ(skipped.find(special), std::string::npos);
  if (byte_level) {
    EXPECT_EQ(skipped, "Hi thereuser\nnext  end");
  }
}

TEST_P(FixtureTest, AddsSpecialTokensPerConfiguration) {
  PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> with, tok_->Encode("Hello"));
  PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> without, tok_->Encode("Hello", false));
  PG_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> empty, tok_->Encode(""));
  switch (GetParam()) {
    case TokenizerFixture::kQwen2ByteLevel:
      EXPECT_EQ(with, without);
      EXPECT_TRUE(empty.empty());
      EXPECT_EQ(tok_->bos_id(), std::nullopt);
      EXPECT_EQ(tok_->eos_id(), tok_->PieceToId("<|endoftext|>"));
      break;
    case TokenizerFixture::kLlama3ByteLevel:
      ASSERT_TRUE(tok_->bos_id().has_value());
      EXPECT_EQ(tok_->IdToPiece(*tok_->bos_id()), "<|begin_of_text|>");
      EXPECT_EQ(with.front(), *tok_->bos_id());
      EXPECT_EQ(std::vector<int64_t>(with.begin() + 1, with.end()), without);
      EXPECT_THAT(empty, ElementsAre(*tok_->bos_id()));
      break;
    case TokenizerFixture::kLlama2Metaspace:
    case TokenizerFixture::kMistralMetaspace:
      EXPECT_EQ(tok_->bos_id(), 1);
      EXPECT_EQ(tok_->eos_id(), 2);
      EXPECT_EQ(with.front(), 1);
      EXPECT_EQ(std::vector<int64_t>(with.begin() + 1, with.end()), without);
      EXPECT_THAT(empty, ElementsAre(1));
      break;
  }
  PG_ASSERT_OK_AND_ASSIGN(std::string decoded, tok_->Decode(with));
  EXPECT_EQ(decoded, "Hello");
}

TEST_P(FixtureTest, MergeFormatsAgree) {
  auto pairs = LoadFixture(GetParam(), /*merges_as_pairs=*/true);
  ASSERT_NE(pairs, nullptr);
  const std::string& corpus = testing::TokenizerFixtureCorpus();
  PG_ASSERT_OK_AND_ASSIGN(auto a, tok_->Encode(corpus));
  PG_ASSERT_OK_AND_ASSIGN(auto b, pairs->Encode(corpus));
  EXPECT_EQ(a, b);
}

TEST_P(FixtureTest, RejectsOutOfRangeIdsAndBadUtf8) {
  EXPECT_THAT(tok_->Decode({0, tok_->vocab_size()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside the vocabulary")));
  EXPECT_THAT(tok_->Decode({-3}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(tok_->Encode("ab\xC3(", false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
}

INSTANTIATE_TEST_SUITE_P(AllFixtures, FixtureTest,
                         ::testing::ValuesIn(testing::AllTokenizerFixtures()),
                         [](const auto& info) {
                           return testing::TokenizerFixtureName(info.param);
                         });

// ---------------------------------------------------------------------------------------------
// Hand-computed encodings (see the hand-built merges in fixture_tokenizers.h).

TEST(HandComputedTest, Qwen2SplitsBeforeMergingAndMergesByRank) {
  auto tok = LoadFixture(TokenizerFixture::kQwen2ByteLevel);
  ASSERT_NE(tok, nullptr);
  // Regex pieces "QXZ" "'s" " " "1" "2" "3": the rank-0 merge "Z '" never sees "Z'", digits stay
  // single although "1 2" is a merge, and "QXZ" is Q + XZ (rank 1 "X Z" beats rank 2 "Q X")
  // although "QXZ" is itself a token.
  PG_ASSERT_OK_AND_ASSIGN(auto ids, tok->Encode("QXZ's 123", false));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("Q", "XZ", "'s", "\xC4\xA0", "1", "2", "3"));
  // " ?\p{L}+": the space joins the word ("Ġ Q" then "ĠQ Q").
  PG_ASSERT_OK_AND_ASSIGN(ids, tok->Encode("a QQ", false));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("a", "\xC4\xA0QQ"));
  // (?i:'s): case-insensitive contraction; 'S is not merged (no "' S" merge).
  PG_ASSERT_OK_AND_ASSIGN(ids, tok->Encode("Z'S", false));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("Z", "'", "S"));
  // Byte-level symbols: é = C3 A9 -> "Ã" "©"; ids are the byte values.
  PG_ASSERT_OK_AND_ASSIGN(ids, tok->Encode("\xC3\xA9", false));
  EXPECT_THAT(ids, ElementsAre(0xC3, 0xA9));
  PG_ASSERT_OK_AND_ASSIGN(ids, tok->Encode("<|im_start|>\n", false));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("<|im_start|>", "\xC4\x8A"));
}

TEST(HandComputedTest, Llama3GroupsDigitsAndIgnoresMergesForKnownWords) {
  auto tok = LoadFixture(TokenizerFixture::kLlama3ByteLevel);
  ASSERT_NE(tok, nullptr);
  // \p{N}{1,3}: "123" "4"; ignore_merges: the piece "QXZ" is a vocabulary token, taken whole.
  PG_ASSERT_OK_AND_ASSIGN(auto ids, tok->Encode("QXZ's 1234", true));
  EXPECT_THAT(Pieces(*tok, ids),
              ElementsAre("<|begin_of_text|>", "QXZ", "'s", "\xC4\xA0", "12", "3", "4"));
}

TEST(HandComputedTest, MetaspaceByteFallbackAndRankOrder) {
  auto tok = LoadFixture(TokenizerFixture::kLlama2Metaspace);
  ASSERT_NE(tok, nullptr);
  // "▁#QXZ": X Z (rank 0) first, so Q + XZ, not the longest match QXZ.
  PG_ASSERT_OK_AND_ASSIGN(auto ids, tok->Encode("#QXZ", false));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("\xE2\x96\x81", "#", "Q", "XZ"));
  // 🙂 is not in the vocabulary: its four UTF-8 bytes.
  PG_ASSERT_OK_AND_ASSIGN(ids, tok->Encode("#\xF0\x9F\x99\x82", false));
  EXPECT_THAT(Pieces(*tok, ids),
              ElementsAre("\xE2\x96\x81", "#", "<0xF0>", "<0x9F>", "<0x99>", "<0x82>"));
  EXPECT_THAT(std::vector<int64_t>(ids.begin() + 2, ids.end()),
              ElementsAre(3 + 0xF0, 3 + 0x9F, 3 + 0x99, 3 + 0x82));
  // Prepend + Replace: " Q" -> "▁▁Q" -> "▁" "▁Q".
  PG_ASSERT_OK_AND_ASSIGN(ids, tok->Encode(" Q", false));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("\xE2\x96\x81", "\xE2\x96\x81Q"));
  PG_ASSERT_OK_AND_ASSIGN(ids, tok->Encode("\n", false));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("\xE2\x96\x81", "<0x0A>"));
}

TEST(HandComputedTest, MistralPrependsOnlyAtTheStart) {
  auto tok = LoadFixture(TokenizerFixture::kMistralMetaspace);
  ASSERT_NE(tok, nullptr);
  PG_ASSERT_OK_AND_ASSIGN(auto ids, tok->Encode("QXZ</s>QXZ"));
  EXPECT_THAT(Pieces(*tok, ids), ElementsAre("<s>", "\xE2\x96\x81Q", "XZ", "</s>", "Q", "XZ"));
}

// ---------------------------------------------------------------------------------------------
// Building blocks.

TEST(ByteLevelTest, Gpt2Map) {
  EXPECT_EQ(byte_level::ByteToCodePoint(' '), 0x120u);
  EXPECT_EQ(byte_level::ByteToCodePoint('\n'), 0x10Au);
  EXPECT_EQ(byte_level::ByteToCodePoint('!'), static_cast<char32_t>('!'));
  EXPECT_EQ(byte_level::ByteToCodePoint(0xA1), 0xA1u);
  EXPECT_EQ(byte_level::ByteToCodePoint(0xAD), 0x143u);
  EXPECT_EQ(byte_level::ByteToCodePoint(0x00), 0x100u);
  EXPECT_EQ(byte_level::ByteToCodePoint(0x7F), 0x121u);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(byte_level::SymbolsToBytes(byte_level::BytesToSymbols(all)), all);
  EXPECT_EQ(byte_level::BytesToSymbols("a b\n"),
            "a\xC4\xA0"
            "b\xC4\x8A");
  EXPECT_EQ(byte_level::SymbolsToBytes("\xE4\xB8\xAD"), std::nullopt);  // 中 is not a symbol
}

std::vector<std::string> RegexPieces(const std::string& pattern, const std::string& text) {
  auto regex = UnicodeRegex::Compile(pattern);
  EXPECT_THAT(regex, IsOk());
  if (!regex.ok()) return {};
  auto matches = (*regex)->FindAll(text);
  EXPECT_THAT(matches, IsOk());
  std::vector<std::string> out;
  if (matches.ok()) {
    for (const auto& [b, e] : *matches) out.push_back(text.substr(b, e - b));
  }
  return out;
}

TEST(UnicodeRegexTest, Gpt2Llama3AndQwen2Patterns) {
  const std::string gpt2 =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  EXPECT_THAT(RegexPieces(gpt2, "Hello world's 123   !!x"),
              ElementsAre("Hello", " world", "'s", " 123", "  ", " !!", "x"));
  EXPECT_THAT(RegexPieces(gpt2, "a   b"), ElementsAre("a", "  ", " b"));  // (?!\S)
  EXPECT_THAT(RegexPieces(gpt2, "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87"),
              ElementsAre("caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87"));  // \p{L} is Unicode
  const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  EXPECT_THAT(RegexPieces(qwen2, "I'LL pay 42.\n\nOk"),
              ElementsAre("I", "'LL", " pay", " ", "4", "2", ".\n\n", "Ok"));
  EXPECT_THAT(RegexPieces(R"(\p{N}{1,3})", "1234567"), ElementsAre("123", "456", "7"));
  // Empty matches do not loop forever; as in the onig crate, an empty match right where the
  // previous match ended is skipped.
  EXPECT_THAT(RegexPieces("x*", "abx"), ElementsAre("", "", "x"));
}

TEST(UnicodeRegexTest, BadPatternNamesThePattern) {
  EXPECT_THAT(UnicodeRegex::Compile("(unclosed[a-"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(unclosed[a-")));
}

TEST(SplitRangesTest, Behaviours) {
  using hf::SplitBehavior;
  // "a-b--c" split at each "-".
  const std::vector<std::pair<size_t, size_t>> dashes = {{1, 2}, {3, 4}, {4, 5}};
  const auto cut = [&](SplitBehavior behavior, bool invert) {
    std::vector<std::string> out;
    const std::string text = "a-b--c";
    for (const auto& [b, e] : hf::SplitRanges(text.size(), dashes, behavior, invert)) {
      out.push_back(text.substr(b, e - b));
    }
    return out;
  };
  EXPECT_THAT(cut(SplitBehavior::kRemoved, false), ElementsAre("a", "b", "c"));
  EXPECT_THAT(cut(SplitBehavior::kIsolated, false), ElementsAre("a", "-", "b", "-", "-", "c"));
  EXPECT_THAT(cut(SplitBehavior::kMergedWithPrevious, false), ElementsAre("a-", "b-", "-", "c"));
  EXPECT_THAT(cut(SplitBehavior::kMergedWithNext, false), ElementsAre("a", "-b", "-", "-c"));
  EXPECT_THAT(cut(SplitBehavior::kContiguous, false), ElementsAre("a", "-", "b", "--", "c"));
  EXPECT_THAT(cut(SplitBehavior::kRemoved, true), ElementsAre("-", "-", "-"));
}

// Cases from huggingface/tokenizers' added_vocabulary.rs tests (without their Lowercase).
TEST(AddedTokenMatcherTest, SingleWordLstripRstrip) {
  const auto cut = [](const hf::AddedToken& token, const std::string& text) {
    hf::AddedTokenMatcher matcher({{token.content, token}});
    std::vector<std::string> out;
    for (const auto& s : matcher.Split(text)) {
      out.push_back((s.id >= 0 ? "#" : "") + text.substr(s.begin, s.end - s.begin));
    }
    return out;
  };
  hf::AddedToken mask;
  mask.id = 0;
  mask.content = "<mask>";
  mask.single_word = true;
  EXPECT_THAT(cut(mask, "<mask> my name <mask> a<mask> <mask>ony <mask>"),
              ElementsAre("#<mask>", " my name ", "#<mask>", " a<mask> <mask>ony ", "#<mask>"));
  EXPECT_THAT(cut(mask, "<mask>, <mask>- \xE2\x97\x8C\xCC\xB0<mask>"),  // ◌̰: a mark is a word char
              ElementsAre("#<mask>", ", ", "#<mask>", "- \xE2\x97\x8C\xCC\xB0<mask>"));
  mask.lstrip = mask.rstrip = true;
  EXPECT_THAT(cut(mask, "hi <mask> there\t<mask>\t<mask>\xE2\x80\x80"),  // U+2000 is a space
              ElementsAre("hi", "# <mask> ", "there", "#\t<mask>\t", "#<mask>\xE2\x80\x80"));
  EXPECT_THAT(cut(mask, ""), ElementsAre(""));
}

TEST(BpeTest, RankOrderUnkFusionByteFallbackAndIgnoreMerges) {
  std::unordered_map<std::string, int64_t> vocab = {{"<unk>", 0}, {"a", 1},      {"b", 2},
                                                    {"c", 3},     {"ab", 4},     {"bc", 5},
                                                    {"abc", 6},   {"<0xC3>", 7}, {"<0xA9>", 8}};
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"b", "c"}, {"a", "b"}, {"ab", "c"}};
  BpeOptions options;
  options.unk_token = "<unk>";
  options.fuse_unk = true;
  PG_ASSERT_OK_AND_ASSIGN(auto bpe, Bpe::Create(vocab, merges, options));
  std::vector<int64_t> ids;
  bpe->Tokenize("abc", &ids);
  EXPECT_THAT(ids, ElementsAre(1, 5));  // b c first (rank 0): a + bc, not ab + c or abc
  ids.clear();
  bpe->Tokenize("xyab", &ids);
  EXPECT_THAT(ids, ElementsAre(0, 4));  // x y fused into one <unk>
  ids.clear();
  bpe->Tokenize("\xC3\xA9", &ids);
  EXPECT_THAT(ids, ElementsAre(0));  // no byte fallback: unk

  options.fuse_unk = false;
  options.byte_fallback = true;
  options.ignore_merges = true;
  PG_ASSERT_OK_AND_ASSIGN(bpe, Bpe::Create(vocab, merges, options));
  ids.clear();
  bpe->Tokenize("xy\xC3\xA9", &ids);
  EXPECT_THAT(ids, ElementsAre(0, 0, 7, 8));
  ids.clear();
  bpe->Tokenize("abc", &ids);
  EXPECT_THAT(ids, ElementsAre(6));  // ignore_merges: a vocabulary word is one token

  EXPECT_THAT(Bpe::Create(vocab, {{"a", "q"}}, BpeOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("model.merges[0]"), HasSubstr("'q'"))));
  EXPECT_THAT(Bpe::Create(vocab, {{"c", "a"}}, BpeOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'ca'")));
}

// ---------------------------------------------------------------------------------------------
// Errors.

class TokenizerErrorTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("tokenizer_errors"); }
  // Writes the Qwen2 fixture with its tokenizer.json edited by `edit`, then loads it.
  absl::StatusOr<std::unique_ptr<Tokenizer>> LoadEdited(TokenizerFixture fixture,
                                                        const std::function<void(Json&)>& edit) {
    EXPECT_THAT(testing::WriteTokenizerFixture(dir_, fixture), IsOk());
    Json json = Json::parse(testing::TokenizerFixtureJson(fixture));
    edit(json);
    EXPECT_THAT(testing::WriteTokenizerFile(dir_ + "/tokenizer.json", json.dump()), IsOk());
    return LoadTokenizer(dir_);
  }
  std::string dir_;
};

TEST_F(TokenizerErrorTest, MissingDirectoryOrFiles) {
  EXPECT_THAT(LoadTokenizer(dir_ + "/absent"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(LoadTokenizer(dir_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("neither tokenizer.json nor")));
}

TEST_F(TokenizerErrorTest, NotJson) {
  ASSERT_THAT(testing::WriteTokenizerFile(dir_ + "/tokenizer.json", "{\"model\": [1, 2"), IsOk());
  EXPECT_THAT(LoadTokenizer(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tokenizer.json"), HasSubstr("not valid JSON"))));
}

TEST_F(TokenizerErrorTest, UnsupportedModelTypes) {
  for (const char* type : {"WordPiece", "Unigram"}) {
    EXPECT_THAT(
        LoadEdited(TokenizerFixture::kQwen2ByteLevel, [&](Json& j) { j["model"]["type"] = type; }),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 AllOf(HasSubstr("tokenizer.json: model.type"), HasSubstr(type),
                       HasSubstr("only BPE is supported"))));
  }
}

TEST_F(TokenizerErrorTest, MergeWithUnknownToken) {
  EXPECT_THAT(LoadEdited(TokenizerFixture::kLlama2Metaspace,
                         [](Json& j) { j["model"]["merges"].push_back("Q nosuchtoken"); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tokenizer.json: model.merges["),
                             HasSubstr("'nosuchtoken' is not in model.vocab"))));
  EXPECT_THAT(LoadEdited(TokenizerFixture::kLlama2Metaspace,
                         [](Json& j) { j["model"]["merges"].push_back("a b c"); }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.merges[")));
}

TEST_F(TokenizerErrorTest, AddedTokenIdCollisionAndRange) {
  EXPECT_THAT(
      LoadEdited(
          TokenizerFixture::kQwen2ByteLevel,
          [](Json& j) {
            j["added_tokens"].push_back({{"id", 65}, {"content", "<|new|>"}, {"special", true}});
          }),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("added_tokens[3].id"), HasSubstr("collides with \"A\""))));
  EXPECT_THAT(LoadEdited(TokenizerFixture::kQwen2ByteLevel,
                         [](Json& j) { j["added_tokens"][1]["id"] = j["added_tokens"][0]["id"]; }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("added_tokens[1].id"), HasSubstr("another added token"))));
  EXPECT_THAT(LoadEdited(TokenizerFixture::kQwen2ByteLevel,
                         [](Json& j) { j["added_tokens"][2]["id"] = 1000000; }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("added_tokens[2].id"), HasSubstr("out of range"))));
  EXPECT_THAT(LoadEdited(TokenizerFixture::kQwen2ByteLevel,
                         [](Json& j) { j["added_tokens"][0]["id"] = -1; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
}

TEST_F(TokenizerErrorTest, BadRegexNamesThePattern) {
  EXPECT_THAT(LoadEdited(TokenizerFixture::kQwen2ByteLevel,
                         [](Json& j) {
                           j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L";
                         }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("pre_tokenizer.pretokenizers[0].pattern.Regex"),
                             HasSubstr("(\\p{L"))));
}

TEST_F(TokenizerErrorTest, UnsupportedComponentsAndMistypedFields) {
  EXPECT_THAT(LoadEdited(TokenizerFixture::kQwen2ByteLevel,
                         [](Json& j) {
                           j["pre_tokenizer"] = {{"type", "Whitespace"}};
                         }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("pre_tokenizer.type"), HasSubstr("Whitespace"),
                             HasSubstr("supported: "))));
  EXPECT_THAT(LoadEdited(TokenizerFixture::kQwen2ByteLevel,
                         [](Json& j) {
                           j["normalizer"] = {{"type", "NFKC"}};
                         }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("normalizer.type")));
  EXPECT_THAT(LoadEdited(TokenizerFixture::kLlama2Metaspace,
                         [](Json& j) { j["decoder"]["decoders"][3]["start"] = "one"; }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("decoder.decoders[3].start: expected an integer")));
  EXPECT_THAT(LoadEdited(TokenizerFixture::kLlama2Metaspace,
                         [](Json& j) { j["model"]["vocab"]["<s>"] = "1"; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.vocab.<s>")));
  EXPECT_THAT(
      LoadEdited(
          TokenizerFixture::kLlama3ByteLevel,
          [](Json& j) {
            j["post_processor"]["processors"][1]["special_tokens"]["<|begin_of_text|>"]["ids"][0] =
                999999;
          }),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("post_processor")));
}

TEST_F(TokenizerErrorTest, MalformedTokenizerConfig) {
  ASSERT_THAT(testing::WriteTokenizerFixture(dir_, TokenizerFixture::kLlama2Metaspace), IsOk());
  ASSERT_THAT(
      testing::WriteTokenizerFile(dir_ + "/tokenizer_config.json", R"({"add_bos_token": "yes"})"),
      IsOk());
  EXPECT_THAT(LoadTokenizer(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tokenizer_config.json"), HasSubstr("add_bos_token"))));
  ASSERT_THAT(
      testing::WriteTokenizerFile(dir_ + "/tokenizer_config.json", R"({"bos_token": "<nope>"})"),
      IsOk());
  ASSERT_THAT(testing::WriteTokenizerFile(dir_ + "/special_tokens_map.json", "{}"), IsOk());
  EXPECT_THAT(LoadTokenizer(dir_), StatusIs(absl::StatusCode::kInvalidArgument,
                                            AllOf(HasSubstr("bos_token"), HasSubstr("<nope>"))));
  ASSERT_THAT(testing::WriteTokenizerFile(dir_ + "/tokenizer_config.json", R"([1])"), IsOk());
  EXPECT_THAT(LoadTokenizer(dir_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tokenizer_config.json")));
}

TEST_F(TokenizerErrorTest, NfcLimitIsExplicit) {
  PG_ASSERT_OK_AND_ASSIGN(auto tok, LoadEdited(TokenizerFixture::kQwen2ByteLevel, [](Json&) {}));
  // e + combining acute accent would need composition.
  EXPECT_THAT(tok->Encode("e\xCC\x81"),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("U+0301")));
}

}  // namespace
}  // namespace prunegate
