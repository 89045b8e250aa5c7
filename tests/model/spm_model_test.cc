// SentencePiece model reader and codec on hand-built ModelProto bytes (BPE and Unigram), plus the
// real stories260K model.
#include "server/model/spm_model.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "gtest/gtest.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate {
namespace {

using ::prunegate::testing::StatusIs;
using ::testing::HasSubstr;

// ---- a minimal protobuf writer for test inputs ----
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Key(int field, int type) { return Varint((static_cast<uint64_t>(field) << 3) | type); }
std::string Bytes(int field, const std::string& v) { return Key(field, 2) + Varint(v.size()) + v; }
std::string Int(int field, uint64_t v) { return Key(field, 0) + Varint(v); }
std::string Float(int field, float f) {
  std::string out = Key(field, 5);
  char b[4];
  std::memcpy(b, &f, 4);
  return out + std::string(b, 4);
}

struct P {
  std::string text;
  float score;
  int type;  // 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte
};

std::string ModelBytes(const std::vector<P>& pieces, int model_type, bool byte_fallback,
                       const std::string& normalizer = "", bool with_bytes = false) {
  std::string out;
  std::vector<P> all = pieces;
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
      all.push_back({buf, 0, 6});
    }
  }
  for (const P& p : all) out += Bytes(1, Bytes(1, p.text) + Float(2, p.score) + Int(3, p.type));
  out += Bytes(2, Int(3, model_type) + Int(35, byte_fallback ? 1 : 0));
  if (!normalizer.empty()) out += Bytes(3, normalizer);
  return out;
}

const std::string kSp = "\xE2\x96\x81";  // ▁

std::vector<P> BasePieces() {
  return {{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}, {kSp, -1, 1},
          {"a", -3, 1},    {"b", -3, 1},  {"c", -3, 1}};
}

SpmCodec Codec(const std::string& bytes) {
  auto m = ParseSpmModel(bytes, "test.model");
  EXPECT_TRUE(m.ok()) << m.status();
  return SpmCodec(*std::move(m));
}

std::vector<std::string> Pieces(const SpmCodec& c, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(c.model().pieces[id].text);
  return out;
}

TEST(SpmBpeTest, MergesByScoreNotByLength) {
  auto pieces = BasePieces();
  pieces.push_back({"ab", -2.5, 1});
  pieces.push_back({"bc", -0.5, 1});
  pieces.push_back({kSp + "a", -2, 1});
  SpmCodec c = Codec(ModelBytes(pieces, 2, false));
  // "▁abc": bc (-0.5) merges first, then ▁a (-2): [▁a, bc], although "ab" exists.
  EXPECT_EQ(Pieces(c, c.Encode("abc")), (std::vector<std::string>{kSp + "a", "bc"}));
  // Raise "ab" above "bc": [▁, ab, c] ("▁ab" is not a piece).
  pieces[7].score = 0;
  SpmCodec c2 = Codec(ModelBytes(pieces, 2, false));
  EXPECT_EQ(Pieces(c2, c2.Encode("abc")), (std::vector<std::string>{kSp, "ab", "c"}));
  EXPECT_EQ(c2.Decode(c2.Encode("abc")), "abc");
}

TEST(SpmBpeTest, ByteFallbackAndUnknown) {
  SpmCodec bytes = Codec(ModelBytes(BasePieces(), 2, true, "", true));
  EXPECT_EQ(Pieces(bytes, bytes.Encode("a\xC3\xA9")),
            (std::vector<std::string>{kSp, "a", "<0xC3>", "<0xA9>"}));
  EXPECT_EQ(bytes.Decode(bytes.Encode("a\xC3\xA9 b")), "a\xC3\xA9 b");
  SpmCodec unk = Codec(ModelBytes(BasePieces(), 2, false));
  EXPECT_EQ(unk.Encode("a\xC3\xA9"), (std::vector<int64_t>{3, 4, 0}));
  EXPECT_EQ(unk.Decode({4, 0}), "a \xE2\x81\x87 ");
}

TEST(SpmBpeTest, NormalizationFollowsTheSpec) {
  SpmCodec c = Codec(ModelBytes(BasePieces(), 2, false));
  // remove_extra_whitespaces (default on): trim and collapse; dummy prefix added.
  EXPECT_EQ(Pieces(c, c.Encode("  a   b  ")), (std::vector<std::string>{kSp, "a", kSp, "b"}));
  EXPECT_TRUE(c.Encode("   ").empty());
  EXPECT_TRUE(c.Encode("").empty());
  // With remove_extra_whitespaces = false (NormalizerSpec field 4) runs survive.
  const std::string normalizer = Bytes(1, "identity") + Int(4, 0);
  SpmCodec keep = Codec(ModelBytes(BasePieces(), 2, false, normalizer));
  EXPECT_EQ(Pieces(keep, keep.Encode(" a  b")),
            (std::vector<std::string>{kSp, kSp, "a", kSp, kSp, "b"}));
  EXPECT_EQ(keep.Decode(keep.Encode(" a  b")), " a  b");
  // add_dummy_prefix = false (field 3).
  SpmCodec bare = Codec(ModelBytes(BasePieces(), 2, false, Int(3, 0)));
  EXPECT_EQ(Pieces(bare, bare.Encode("ab")), (std::vector<std::string>{"a", "b"}));
}

TEST(SpmBpeTest, ControlPiecesDecodeToNothingUnlessKept) {
  SpmCodec c = Codec(ModelBytes(BasePieces(), 2, false));
  EXPECT_EQ(c.Decode({1, 3, 4, 2}), "a");
  EXPECT_EQ(c.Decode({1, 3, 4, 2}, /*keep_control=*/true), "<s>a</s>");
}

TEST(SpmUnigramTest, ViterbiPicksTheBestScoringSegmentation) {
  auto pieces = BasePieces();
  pieces.push_back({"ab", -2.5, 1});
  pieces.push_back({"bc", -2, 1});
  pieces.push_back({kSp + "a", -2, 1});
  SpmCodec c = Codec(ModelBytes(pieces, 1, false));
  // ▁a|bc = -4 beats ▁|ab|c = -6.5, ▁|a|bc = -6, ▁a|b|c = -8.
  EXPECT_EQ(Pieces(c, c.Encode("abc")), (std::vector<std::string>{kSp + "a", "bc"}));
  // Unknown characters become unk (or bytes with byte fallback).
  EXPECT_EQ(Pieces(c, c.Encode("az")), (std::vector<std::string>{kSp + "a", "<unk>"}));
  SpmCodec fb = Codec(ModelBytes(pieces, 1, true, "", true));
  EXPECT_EQ(Pieces(fb, fb.Encode("az")), (std::vector<std::string>{kSp + "a", "<0x7A>"}));
  EXPECT_EQ(fb.Decode(fb.Encode("bca z")), "bca z");
}

TEST(SpmParseTest, RejectsMalformedAndUnsupportedModels) {
  const std::string good = ModelBytes(BasePieces(), 2, false);
  EXPECT_THAT(ParseSpmModel(good.substr(0, good.size() - 3), "m.model"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("m.model: malformed SentencePiece model")));
  EXPECT_THAT(ParseSpmModel("", "m.model"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no pieces")));
  EXPECT_THAT(ParseSpmModel("\xFF\xFF\xFF", "m.model"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSpmModel(ModelBytes(BasePieces(), 3, false), "m.model"),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("BPE, UNIGRAM")));
  EXPECT_THAT(
      ParseSpmModel(ModelBytes(BasePieces(), 2, false, Bytes(1, "nmt_nfkc") + Bytes(2, "xyz")),
                    "m.model"),
      StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("nmt_nfkc")));
  EXPECT_THAT(ParseSpmModel(good + Bytes(2, Int(41, 99)), "m.model"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("special token id 99")));
  EXPECT_THAT(ParseSpmModel(Bytes(1, Bytes(1, "x") + Int(3, 9)), "m.model"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown piece type")));
}

TEST(SpmParseTest, RealStories260KModel) {
  PG_SHARED_DIR_OR_SKIP(shared);
  std::ifstream in(shared + "/models/stories260K/tokenizer.model", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  PG_ASSERT_OK_AND_ASSIGN(SpmModel m, ParseSpmModel(bytes, "tokenizer.model"));
  EXPECT_EQ(m.pieces.size(), 512u);
  EXPECT_EQ(m.algorithm, SpmModel::Algorithm::kBpe);
  EXPECT_TRUE(m.byte_fallback);
  EXPECT_EQ(m.normalizer_name, "identity");
  SpmCodec c(std::move(m));
  const std::string text = "Once upon a time, Lily said \"hi\" 2 times.\nThe end!";
  EXPECT_EQ(c.Decode(c.Encode(text)), text);
}

}  // namespace
}  // namespace prunegate
