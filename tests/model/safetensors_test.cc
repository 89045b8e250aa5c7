#include "server/model/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fixtures/fixture_checkpoints.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("safetensors_test");
    path_ = (fs::path(dir_) / "model.safetensors").string();
  }

  // Writes header + buffer to path_ and opens it.
  absl::StatusOr<std::shared_ptr<const SafetensorsFile>> OpenRaw(const std::string& header,
                                                                 const std::string& buffer) {
    absl::Status written = testing::WriteRawSafetensors(path_, header, buffer);
    if (!written.ok()) return written;
    return SafetensorsFile::Open(path_);
  }

  // INVALID_ARGUMENT naming the file, the tensor and `what`.
  auto InvalidTensor(const std::string& tensor, const std::string& what) {
    return StatusIs(absl::StatusCode::kInvalidArgument,
                    AllOf(HasSubstr(path_), HasSubstr("tensor '" + tensor + "'"), HasSubstr(what)));
  }
  auto InvalidFile(const std::string& what) {
    return StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr(path_), HasSubstr(what)));
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  EXPECT_THAT(SafetensorsFile::Open(path_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path_)));
}

TEST_F(SafetensorsTest, FileShorterThanEightBytes) {
  ASSERT_THAT(testing::WriteFileBytes(path_, "abcde"), IsOk());
  EXPECT_THAT(SafetensorsFile::Open(path_), InvalidFile("shorter than the 8-byte header length"));
}

TEST_F(SafetensorsTest, HeaderLengthBeyondCap) {
  ASSERT_THAT(testing::WriteRawSafetensors(path_, "{}", "", kMaxSafetensorsHeaderBytes + 1),
              IsOk());
  EXPECT_THAT(SafetensorsFile::Open(path_), InvalidFile("exceeds the cap"));
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  ASSERT_THAT(testing::WriteRawSafetensors(path_, "{}", "", 1000), IsOk());
  EXPECT_THAT(SafetensorsFile::Open(path_), InvalidFile("beyond the end of the file"));
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  EXPECT_THAT(OpenRaw("{\"w\": nope", ""), InvalidFile("header is not valid JSON"));
}

TEST_F(SafetensorsTest, HeaderIsArray) {
  EXPECT_THAT(OpenRaw("[1, 2]", ""), InvalidFile("expected an object"));
}

TEST_F(SafetensorsTest, EntryNotObject) {
  EXPECT_THAT(OpenRaw(R"({"w": [1, 2]})", ""), InvalidTensor("w", "expected an object"));
}

TEST_F(SafetensorsTest, UnknownDtype) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}})",
                      std::string(4, '\0')),
              InvalidTensor("w", "unknown dtype 'F12'"));
}

TEST_F(SafetensorsTest, NegativeShape) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                      std::string(4, '\0')),
              InvalidTensor("w", "not a non-negative integer"));
}

TEST_F(SafetensorsTest, NonIntegerShape) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
                      std::string(4, '\0')),
              InvalidTensor("w", "not a non-negative integer"));
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": ["1"], "data_offsets": [0, 4]}})",
                      std::string(4, '\0')),
              InvalidTensor("w", "not a non-negative integer"));
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})",
                      std::string(4, '\0')),
              InvalidTensor("w", "'shape'"));
}

TEST_F(SafetensorsTest, ShapeOverflow) {
  EXPECT_THAT(
      OpenRaw(
          R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 4]}})",
          std::string(4, '\0')),
      InvalidTensor("w", "overflows"));
}

TEST_F(SafetensorsTest, MalformedOffsets) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
                      std::string(4, '\0')),
              InvalidTensor("w", "data_offsets"));
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})",
                      std::string(4, '\0')),
              InvalidTensor("w", "data_offsets"));
}

TEST_F(SafetensorsTest, BeginAfterEnd) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})",
                      std::string(8, '\0')),
              InvalidTensor("w", "begin 8 is after end 4"));
}

TEST_F(SafetensorsTest, EndBeyondBuffer) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                      std::string(8, '\0')),
              InvalidTensor("w", "beyond the data buffer (8 bytes)"));
}

TEST_F(SafetensorsTest, ByteSizeMismatch) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
                      std::string(8, '\0')),
              InvalidTensor("w", "needs 12"));
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  EXPECT_THAT(OpenRaw(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                      std::string(12, '\0')),
              InvalidTensor("b", "overlaps tensor 'a'"));
}

TEST_F(SafetensorsTest, GapBetweenTensors) {
  EXPECT_THAT(OpenRaw(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                          "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                      std::string(12, '\0')),
              InvalidTensor("b", "bytes [4, 8) before this tensor belong to no tensor"));
}

TEST_F(SafetensorsTest, UncoveredTrailingBytes) {
  EXPECT_THAT(OpenRaw(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                      std::string(8, '\0')),
              InvalidFile("bytes [4, 8) belong to no tensor"));
}

TEST_F(SafetensorsTest, MetadataWithNonStringValue) {
  EXPECT_THAT(OpenRaw(R"({"__metadata__": {"format": "pt", "step": 3}})", ""),
              InvalidFile("__metadata__ key 'step'"));
  EXPECT_THAT(OpenRaw(R"({"__metadata__": ["pt"]})", ""), InvalidFile("__metadata__"));
}

TEST_F(SafetensorsTest, DuplicateTensorNames) {
  EXPECT_THAT(OpenRaw(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                          "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                      std::string(8, '\0')),
              InvalidFile("tensor 'w' more than once"));
}

TEST_F(SafetensorsTest, AcceptsEmptyScalarAndSpacePaddedHeader) {
  // A space-padded header (as the reference writer pads it), a scalar and two empty tensors at the
  // same offset.
  PG_ASSERT_OK_AND_ASSIGN(auto file,
                          OpenRaw(R"({"s": {"dtype": "I32", "shape": [], "data_offsets": [0, 4]},
                             "e": {"dtype": "F16", "shape": [0, 3], "data_offsets": [4, 4]},
                             "z": {"dtype": "BF16", "shape": [2, 0], "data_offsets": [4, 4]}}   )",
                                  std::string("\x07\x00\x00\x00", 4)));
  ASSERT_EQ(file->tensors().size(), 3u);
  const TensorView* s = file->Find("s");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(s->numel(), 1);
  EXPECT_EQ(s->data[0], 7);
  EXPECT_EQ(file->Find("e")->numel(), 0);
  EXPECT_EQ(file->Find("z")->nbytes, 0u);
  EXPECT_EQ(file->Find("missing"), nullptr);
}

std::string Bytes(const void* data, size_t n) {
  return std::string(static_cast<const char*>(data), n);
}

TEST_F(SafetensorsTest, WriteReadRoundTrip) {
  const std::vector<float> f32 = {1.5f, -2.25f, 0.0f, 3.0e-3f, 7.0f, -0.5f};
  const std::vector<int64_t> i64 = {-1, 0, 1LL << 40};
  const int32_t scalar = -42;
  std::vector<TensorToWrite> tensors = {
      {"f32", DType::kF32, {2, 3}, testing::EncodeFloats(f32, DType::kF32)},
      {"f16", DType::kF16, {6}, testing::EncodeFloats(f32, DType::kF16)},
      {"bf16", DType::kBF16, {3, 2}, testing::EncodeFloats(f32, DType::kBF16)},
      {"i64", DType::kI64, {3}, Bytes(i64.data(), 24)},
      {"scalar", DType::kI32, {}, Bytes(&scalar, 4)},
      {"empty", DType::kF32, {0, 5}, ""},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "héllo"}};
  ASSERT_THAT(WriteSafetensors(path_, tensors, metadata), IsOk());

  // Header length is a multiple of 8 and the header ends in space padding.
  std::ifstream in(path_, std::ios::binary);
  uint64_t header_len = 0;
  in.read(reinterpret_cast<char*>(&header_len), 8);
  EXPECT_EQ(header_len % 8, 0u);

  PG_ASSERT_OK_AND_ASSIGN(auto file, SafetensorsFile::Open(path_));
  EXPECT_EQ(file->path(), path_);
  EXPECT_EQ(file->metadata(), metadata);
  ASSERT_EQ(file->tensors().size(), tensors.size());
  for (const TensorToWrite& t : tensors) {
    SCOPED_TRACE(t.name);
    const TensorView* view = file->Find(t.name);
    ASSERT_NE(view, nullptr);
    EXPECT_EQ(view->name, t.name);
    EXPECT_EQ(view->dtype, t.dtype);
    EXPECT_EQ(view->shape, t.shape);
    EXPECT_EQ(view->nbytes, t.bytes.size());
    EXPECT_EQ(Bytes(view->data, view->nbytes), t.bytes);
  }
  // Tensors are listed in data-offset order; written order is data order.
  std::vector<std::string> order;
  for (const TensorView& v : file->tensors()) order.push_back(v.name);
  EXPECT_THAT(order, ElementsAre("f32", "f16", "bf16", "i64", "scalar", "empty"));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file->Find("f32")->data) % 8, 0u);
  PG_ASSERT_OK_AND_ASSIGN(std::vector<float> decoded, testing::DecodeFloats(*file->Find("f32")));
  EXPECT_EQ(decoded, f32);
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SafetensorsTest, WriteRejectsBadTensors) {
  EXPECT_THAT(
      WriteSafetensors(path_, {{"w", DType::kF32, {2}, std::string(4, '\0')}}),
      StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr("'w'"), HasSubstr("needs 8"))));
  EXPECT_THAT(WriteSafetensors(path_, {{"w", DType::kU8, {1}, "a"}, {"w", DType::kU8, {1}, "b"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate")));
  EXPECT_THAT(WriteSafetensors(path_, {{"w", DType::kU8, {-1}, ""}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative")));
  EXPECT_FALSE(fs::exists(path_));
}

TEST(DTypeTest, NamesSizesAndParsing) {
  EXPECT_EQ(ParseSafetensorsDType("BF16"), DType::kBF16);
  EXPECT_EQ(ParseSafetensorsDType("F8_E4M3"), DType::kF8E4M3);
  EXPECT_EQ(ParseSafetensorsDType("F12"), std::nullopt);
  EXPECT_EQ(ParseSafetensorsDType("f32"), std::nullopt);
  for (const char* name : {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
                           "I32", "U32", "F32", "I64", "U64", "F64"}) {
    auto dtype = ParseSafetensorsDType(name);
    ASSERT_TRUE(dtype.has_value()) << name;
    EXPECT_EQ(SafetensorsDTypeName(*dtype), name);
  }
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_TRUE(IsFloatWeightDType(DType::kF16));
  EXPECT_FALSE(IsFloatWeightDType(DType::kF64));
}

TEST(HalfConversionTest, RoundToNearestEven) {
  using testing::FloatToBf16Bits;
  using testing::FloatToF16Bits;
  EXPECT_EQ(FloatToBf16Bits(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBf16Bits(-2.0f), 0xc000);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(FloatToBf16Bits(1.00390625f), 0x3f80);
  // 1 + 3*2^-8 is halfway between 1.0078125 (odd) and 1.015625: ties to even (up).
  EXPECT_EQ(FloatToBf16Bits(1.01171875f), 0x3f82);
  EXPECT_EQ(FloatToF16Bits(1.0f), 0x3c00);
  EXPECT_EQ(FloatToF16Bits(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToF16Bits(65520.0f), 0x7c00);
  EXPECT_EQ(FloatToF16Bits(-0.0f), 0x8000);
  EXPECT_EQ(FloatToF16Bits(5.9604644775390625e-8f), 0x0001);   // 2^-24, smallest subnormal
  EXPECT_EQ(FloatToF16Bits(2.98023223876953125e-8f), 0x0000);  // 2^-25: tie to even (0)
  EXPECT_EQ(FloatToF16Bits(6.103515625e-5f), 0x0400);          // 2^-14, smallest normal
  EXPECT_EQ(FloatToF16Bits(1.0f + 1.0f / 2048), 0x3c00);       // tie to even
  EXPECT_EQ(FloatToF16Bits(1.0f + 3.0f / 2048), 0x3c02);
  for (uint16_t bits : {0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xbc01}) {
    EXPECT_EQ(FloatToF16Bits(testing::F16BitsToFloat(bits)), bits);
  }
  EXPECT_EQ(testing::Bf16BitsToFloat(0x3f80), 1.0f);
}

TEST(SafetensorsRealFileTest, Stories260KOpens) {
  PG_SHARED_DIR_OR_SKIP(shared);
  const std::string path = shared + "/models/stories260K/model.safetensors";
  PG_ASSERT_OK_AND_ASSIGN(auto file, SafetensorsFile::Open(path));
  const TensorView* embed = file->Find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, DType::kF32);
  EXPECT_THAT(embed->shape, ElementsAre(512, 64));
  EXPECT_NE(file->Find("lm_head.weight"), nullptr);
  EXPECT_EQ(file->tensors().size(), 48u);
}

}  // namespace
}  // namespace prunegate
