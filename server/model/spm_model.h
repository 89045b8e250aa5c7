// SentencePiece `tokenizer.model` without libsentencepiece: a bounds-checked reader of the
// ModelProto wire format and the BPE and Unigram encoders with SentencePiece's normalization.
//
// Why not libsentencepiece: Debian's libsentencepiece.so.0 carries its own copy of protobuf-lite
// and exports its symbols. In a process that also loads libprotobuf (libtorch does, and so does
// gRPC) the two interpose and the process crashes in a static initializer before main (seen
// here: SIGSEGV in ReflectionOps::FindInitializationErrors called from libsentencepiece's
// MergeFromImpl). The model format and algorithms are small and documented, so we own them.
#ifndef PRUNEGATE_SERVER_MODEL_SPM_MODEL_H_
#define PRUNEGATE_SERVER_MODEL_SPM_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"

namespace prunegate {

struct SpmModel {
  enum class Algorithm { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };
  enum class PieceType {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6
  };
  struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::kNormal;
  };
  Algorithm algorithm = Algorithm::kUnigram;
  std::vector<Piece> pieces;
  // TrainerSpec fields that matter at inference.
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  int64_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ "
  // NormalizerSpec.
  std::string normalizer_name;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses a serialized ModelProto. INVALID_ARGUMENT naming `source` for truncated or malformed
// wire data, an empty vocabulary, out-of-range special ids, and UNIMPLEMENTED for what we do not
// run (a precompiled normalization charsmap, i.e. nmt_nfkc rules; WORD/CHAR models).
absl::StatusOr<SpmModel> ParseSpmModel(std::string_view bytes, const std::string& source);

// Encoder/decoder over a parsed model, following sentencepiece's normalizer.cc, bpe_model.cc,
// unigram_model.cc and DecodePieces.
class SpmCodec {
 public:
  explicit SpmCodec(SpmModel model);
  const SpmModel& model() const { return model_; }
  // Text -> ids (no BOS/EOS; the caller adds them).
  std::vector<int64_t> Encode(std::string_view text) const;
  // ids -> text. Control tokens decode to nothing (or their text when `keep_control`), byte
  // pieces are gathered into UTF-8, "▁" becomes a space, and the dummy-prefix space of the
  // first piece is removed. Ids must be in range (checked by the caller).
  std::string Decode(const std::vector<int64_t>& ids, bool keep_control = false) const;
  int64_t PieceToId(std::string_view piece) const;  // -1 when absent

 private:
  std::string Normalize(std::string_view text) const;
  // Splits normalized text into initial symbols: user-defined pieces whole, else characters.
  std::vector<std::string_view> InitialSymbols(std::string_view normalized) const;
  std::vector<int64_t> EncodeBpe(std::string_view normalized) const;
  std::vector<int64_t> EncodeUnigram(std::string_view normalized) const;
  void EmitPiece(std::string_view piece, std::vector<int64_t>* out) const;

  SpmModel model_;
  std::unordered_map<std::string, int64_t> piece_to_id_;  // every piece
  std::unordered_map<std::string, int64_t> mergeable_;    // normal + user-defined pieces
  std::vector<std::string> user_defined_;                 // longest first
  int64_t byte_ids_[256];
  size_t max_piece_bytes_ = 1;
  float min_score_ = 0;
};

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_SPM_MODEL_H_
