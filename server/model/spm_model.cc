#include "server/model/spm_model.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/common/status_macros.h"
#include "server/model/utf8.h"

namespace prunegate {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581 "▁"

// ---- protobuf wire format (just what ModelProto needs) ----
class Wire {
 public:
  Wire(std::string_view data, const std::string& source) : data_(data), source_(source) {}
  bool done() const { return pos_ >= data_.size(); }

  absl::Status Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Error("truncated varint");
      const uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
      *v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (byte < 0x80) return absl::OkStatus();
    }
    return Error("varint longer than 10 bytes");
  }
  // Reads a field header; `wire_type` 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
  absl::Status Tag(int* field, int* wire_type) {
    uint64_t key;
    PG_RETURN_IF_ERROR(Varint(&key));
    *field = static_cast<int>(key >> 3);
    *wire_type = static_cast<int>(key & 7);
    if (*field == 0) return Error("field number 0");
    return absl::OkStatus();
  }
  absl::Status Bytes(std::string_view* out) {
    uint64_t n;
    PG_RETURN_IF_ERROR(Varint(&n));
    if (n > data_.size() - pos_) return Error("length-delimited field runs past the end");
    *out = data_.substr(pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }
  absl::Status Fixed32(uint32_t* v) {
    if (data_.size() - pos_ < 4) return Error("truncated fixed32");
    std::memcpy(v, data_.data() + pos_, 4);  // little-endian hosts only (x86-64, aarch64)
    pos_ += 4;
    return absl::OkStatus();
  }
  absl::Status Skip(int wire_type) {
    uint64_t v;
    std::string_view s;
    switch (wire_type) {
      case 0:
        return Varint(&v);
      case 1:
        if (data_.size() - pos_ < 8) return Error("truncated fixed64");
        pos_ += 8;
        return absl::OkStatus();
      case 2:
        return Bytes(&s);
      case 5:
        if (data_.size() - pos_ < 4) return Error("truncated fixed32");
        pos_ += 4;
        return absl::OkStatus();
      default:
        return Error(absl::StrCat("unsupported wire type ", wire_type));
    }
  }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": malformed SentencePiece model (",
                                                   std::string(what), " at byte ", pos_, ")"));
  }

 private:
  std::string_view data_;
  const std::string& source_;
  size_t pos_ = 0;
};

// Parses `bytes` as a message, calling on_field(field, wire_type, wire) for every field; the
// callback consumes the value or returns false to skip it.
template <typename Fn>
absl::Status ForEachField(std::string_view bytes, const std::string& source, Fn&& on_field) {
  Wire w(bytes, source);
  while (!w.done()) {
    int field, type;
    PG_RETURN_IF_ERROR(w.Tag(&field, &type));
    PG_ASSIGN_OR_RETURN(bool consumed, on_field(field, type, w));
    if (!consumed) PG_RETURN_IF_ERROR(w.Skip(type));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ReadVarint(Wire& w, int type, uint64_t* v) {
  if (type != 0) return w.Error("expected a varint field");
  PG_RETURN_IF_ERROR(w.Varint(v));
  return true;
}

absl::StatusOr<bool> ReadBytes(Wire& w, int type, std::string_view* v) {
  if (type != 2) return w.Error("expected a length-delimited field");
  PG_RETURN_IF_ERROR(w.Bytes(v));
  return true;
}

int64_t SignedInt32(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

}  // namespace

absl::StatusOr<SpmModel> ParseSpmModel(std::string_view bytes, const std::string& source) {
  SpmModel m;
  bool has_charsmap = false;
  uint64_t v;
  std::string_view s;
  PG_RETURN_IF_ERROR(
      ForEachField(bytes, source, [&](int field, int type, Wire& w) -> absl::StatusOr<bool> {
        if (field == 1) {  // repeated SentencePiece pieces
          PG_ASSIGN_OR_RETURN(bool ok, ReadBytes(w, type, &s));
          (void)ok;
          SpmModel::Piece piece;
          PG_RETURN_IF_ERROR(
              ForEachField(s, source, [&](int f, int t, Wire& pw) -> absl::StatusOr<bool> {
                std::string_view text;
                switch (f) {
                  case 1:
                    PG_RETURN_IF_ERROR(ReadBytes(pw, t, &text).status());
                    piece.text = std::string(text);
                    return true;
                  case 2: {
                    if (t != 5) return pw.Error("piece score is not a float");
                    uint32_t bits = 0;
                    PG_RETURN_IF_ERROR(pw.Fixed32(&bits));
                    std::memcpy(&piece.score, &bits, 4);
                    return true;
                  }
                  case 3: {
                    uint64_t type_value;
                    PG_RETURN_IF_ERROR(ReadVarint(pw, t, &type_value).status());
                    if (type_value < 1 || type_value > 6) return pw.Error("unknown piece type");
                    piece.type = static_cast<SpmModel::PieceType>(type_value);
                    return true;
                  }
                }
                return false;
              }));
          m.pieces.push_back(std::move(piece));
          return true;
        }
        if (field == 2) {  // TrainerSpec
          PG_RETURN_IF_ERROR(ReadBytes(w, type, &s).status());
          return ForEachField(
                     s, source,
                     [&](int f, int t, Wire& tw) -> absl::StatusOr<bool> {
                       switch (f) {
                         case 3:
                           PG_RETURN_IF_ERROR(ReadVarint(tw, t, &v).status());
                           if (v < 1 || v > 4) return tw.Error("unknown model_type");
                           m.algorithm = static_cast<SpmModel::Algorithm>(v);
                           return true;
                         case 24:
                           PG_RETURN_IF_ERROR(ReadVarint(tw, t, &v).status());
                           m.treat_whitespace_as_suffix = v != 0;
                           return true;
                         case 35:
                           PG_RETURN_IF_ERROR(ReadVarint(tw, t, &v).status());
                           m.byte_fallback = v != 0;
                           return true;
                         case 40:
                         case 41:
                         case 42:
                         case 43: {
                           PG_RETURN_IF_ERROR(ReadVarint(tw, t, &v).status());
                           int64_t* ids[] = {&m.unk_id, &m.bos_id, &m.eos_id, &m.pad_id};
                           *ids[f - 40] = SignedInt32(v);
                           return true;
                         }
                         case 44: {
                           std::string_view surface;
                           PG_RETURN_IF_ERROR(ReadBytes(tw, t, &surface).status());
                           m.unk_surface = std::string(surface);
                           return true;
                         }
                       }
                       return false;
                     }).ok()
                     ? absl::StatusOr<bool>(true)
                     : w.Error("bad trainer_spec");
        }
        if (field == 3) {  // NormalizerSpec
          PG_RETURN_IF_ERROR(ReadBytes(w, type, &s).status());
          PG_RETURN_IF_ERROR(
              ForEachField(s, source, [&](int f, int t, Wire& nw) -> absl::StatusOr<bool> {
                std::string_view text;
                switch (f) {
                  case 1:
                    PG_RETURN_IF_ERROR(ReadBytes(nw, t, &text).status());
                    m.normalizer_name = std::string(text);
                    return true;
                  case 2:
                    PG_RETURN_IF_ERROR(ReadBytes(nw, t, &text).status());
                    has_charsmap = !text.empty();
                    return true;
                  case 3:
                  case 4:
                  case 5: {
                    PG_RETURN_IF_ERROR(ReadVarint(nw, t, &v).status());
                    bool* flags[] = {&m.add_dummy_prefix, &m.remove_extra_whitespaces,
                                     &m.escape_whitespaces};
                    *flags[f - 3] = v != 0;
                    return true;
                  }
                }
                return false;
              }));
          return true;
        }
        return false;  // self_test_data, denormalizer_spec: not needed
      }));

  if (m.pieces.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": SentencePiece model has no pieces"));
  }
  if (has_charsmap) {
    return absl::UnimplementedError(absl::StrCat(
        source, ": SentencePiece normalizer '", m.normalizer_name,
        "' uses a precompiled charsmap (e.g. nmt_nfkc), which prunegate does not implement; "
        "models trained with normalization_rule_name=identity (Llama, Mistral) are supported"));
  }
  if (m.algorithm != SpmModel::Algorithm::kBpe && m.algorithm != SpmModel::Algorithm::kUnigram) {
    return absl::UnimplementedError(absl::StrCat(source, ": SentencePiece model_type ",
                                                 static_cast<int>(m.algorithm),
                                                 " is not supported (supported: BPE, UNIGRAM)"));
  }
  const int64_t n = m.pieces.size();
  for (int64_t* id : {&m.unk_id, &m.bos_id, &m.eos_id, &m.pad_id}) {
    if (*id >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": special token id ", *id, " >= vocabulary size ", n));
    }
  }
  if (m.unk_id < 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": SentencePiece model has no unk_id"));
  }
  return m;
}

// ---------------------------------------------------------------------------------------------

SpmCodec::SpmCodec(SpmModel model) : model_(std::move(model)) {
  std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
  min_score_ = std::numeric_limits<float>::max();
  for (int64_t id = 0; id < static_cast<int64_t>(model_.pieces.size()); ++id) {
    const SpmModel::Piece& p = model_.pieces[id];
    piece_to_id_.emplace(p.text, id);
    if (p.type == SpmModel::PieceType::kNormal || p.type == SpmModel::PieceType::kUserDefined) {
      mergeable_.emplace(p.text, id);
      max_piece_bytes_ = std::max(max_piece_bytes_, p.text.size());
      if (p.type == SpmModel::PieceType::kNormal) min_score_ = std::min(min_score_, p.score);
    }
    if (p.type == SpmModel::PieceType::kUserDefined) user_defined_.push_back(p.text);
    unsigned byte;
    if (p.type == SpmModel::PieceType::kByte && p.text.size() == 6 &&
        std::sscanf(p.text.c_str(), "<0x%2X>", &byte) == 1) {
      byte_ids_[byte] = id;
    }
  }
  if (min_score_ == std::numeric_limits<float>::max()) min_score_ = 0;
  std::sort(user_defined_.begin(), user_defined_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

int64_t SpmCodec::PieceToId(std::string_view piece) const {
  auto it = piece_to_id_.find(std::string(piece));
  return it == piece_to_id_.end() ? -1 : it->second;
}

std::string SpmCodec::Normalize(std::string_view input) const {
  // normalizer.cc with identity rules: user-defined symbols pass through untouched; ill-formed
  // UTF-8 becomes U+FFFD; extra whitespace handling and "▁" escaping per the spec.
  const bool remove_ws = model_.remove_extra_whitespaces;
  if (remove_ws) {
    while (!input.empty() && input.front() == ' ') input.remove_prefix(1);
  }
  std::string out;
  if (input.empty()) return out;
  const std::string_view space = model_.escape_whitespaces ? kSpace : " ";
  if (!model_.treat_whitespace_as_suffix && model_.add_dummy_prefix) out.append(space);
  bool prev_space = remove_ws;
  while (!input.empty()) {
    size_t len = utf8::CharLength(input, 0);
    std::string_view ch = len == 0 ? "\xEF\xBF\xBD" : input.substr(0, len);
    if (len == 0) len = 1;
    if (ch == " ") {
      if (!prev_space) out.append(space);
      prev_space = remove_ws;
    } else {
      out.append(ch);
      prev_space = false;
    }
    input.remove_prefix(len);
  }
  if (remove_ws) {
    while (out.size() >= space.size() &&
           out.compare(out.size() - space.size(), space.size(), space) == 0) {
      out.resize(out.size() - space.size());
    }
  }
  if (model_.treat_whitespace_as_suffix && model_.add_dummy_prefix) out.append(space);
  return out;
}

std::vector<std::string_view> SpmCodec::InitialSymbols(std::string_view text) const {
  std::vector<std::string_view> symbols;
  size_t i = 0;
  while (i < text.size()) {
    size_t len = 0;
    for (const std::string& u : user_defined_) {
      if (text.compare(i, u.size(), u) == 0) {
        len = u.size();
        break;
      }
    }
    if (len == 0) len = std::max<size_t>(1, utf8::CharLength(text, i));
    symbols.push_back(text.substr(i, len));
    i += len;
  }
  return symbols;
}

void SpmCodec::EmitPiece(std::string_view piece, std::vector<int64_t>* out) const {
  auto it = mergeable_.find(std::string(piece));
  if (it != mergeable_.end()) {
    out->push_back(it->second);
    return;
  }
  if (model_.byte_fallback) {
    bool all = true;
    for (unsigned char c : piece) all &= byte_ids_[c] >= 0;
    if (all) {
      for (unsigned char c : piece) out->push_back(byte_ids_[c]);
      return;
    }
  }
  out->push_back(model_.unk_id);
}

std::vector<int64_t> SpmCodec::EncodeBpe(std::string_view text) const {
  // bpe_model.cc: repeatedly merge the adjacent pair whose concatenation is a piece with the
  // highest score (ties: leftmost), using a lazy priority queue over a linked list of symbols.
  struct Symbol {
    int prev, next;
    std::string_view piece;
  };
  struct Pair {
    int left, right;
    float score;
    size_t size;
  };
  auto worse = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);
  std::vector<std::string_view> init = InitialSymbols(text);
  std::vector<Symbol> sym(init.size());
  for (size_t i = 0; i < init.size(); ++i) {
    sym[i] = {static_cast<int>(i) - 1, i + 1 < init.size() ? static_cast<int>(i + 1) : -1, init[i]};
  }
  auto maybe_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    // Symbols are adjacent views into `text`, so their union is a view too.
    std::string_view joined(sym[left].piece.data(),
                            sym[left].piece.size() + sym[right].piece.size());
    if (joined.size() > max_piece_bytes_) return;
    auto it = mergeable_.find(std::string(joined));
    if (it == mergeable_.end()) return;
    agenda.push({left, right, model_.pieces[it->second].score, joined.size()});
  };
  for (size_t i = 1; i < sym.size(); ++i) maybe_add(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& l = sym[top.left];
    Symbol& r = sym[top.right];
    if (l.piece.empty() || r.piece.empty() || l.piece.size() + r.piece.size() != top.size) {
      continue;  // stale: one side was merged into something else
    }
    l.piece = std::string_view(l.piece.data(), top.size);
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = top.left;
    r.piece = std::string_view();
    maybe_add(l.prev, top.left);
    maybe_add(top.left, l.next);
  }
  std::vector<int64_t> ids;
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) EmitPiece(sym[i].piece, &ids);
  return ids;
}

std::vector<int64_t> SpmCodec::EncodeUnigram(std::string_view text) const {
  // unigram_model.cc: Viterbi over every segmentation into known pieces; an unknown character
  // costs min_score - 10 (kUnkPenalty) and is emitted as bytes (byte_fallback) or unk.
  const size_t n = text.size();
  const float unk_score = min_score_ - 10.0f;
  std::vector<double> best(n + 1, -std::numeric_limits<double>::infinity());
  std::vector<size_t> from(n + 1, 0);
  best[0] = 0;
  std::vector<std::string_view> chars = InitialSymbols(text);
  std::vector<size_t> starts;  // character boundaries
  for (auto c : chars) starts.push_back(c.data() - text.data());
  starts.push_back(n);
  std::vector<bool> boundary(n + 1, false);
  for (size_t s : starts) boundary[s] = true;
  for (size_t ci = 0; ci + 1 < starts.size(); ++ci) {
    const size_t b = starts[ci];
    if (best[b] == -std::numeric_limits<double>::infinity()) continue;
    bool any = false;
    for (size_t e = b + 1; e <= n && e - b <= max_piece_bytes_; ++e) {
      if (!boundary[e]) continue;
      auto it = mergeable_.find(std::string(text.substr(b, e - b)));
      if (it == mergeable_.end()) continue;
      const double score = best[b] + model_.pieces[it->second].score;
      any |= e == starts[ci + 1];
      if (score > best[e]) best[e] = score, from[e] = b;
    }
    if (!any) {  // the single character is unknown
      const size_t e = starts[ci + 1];
      const double score = best[b] + unk_score;
      if (score > best[e]) best[e] = score, from[e] = b;
    }
  }
  std::vector<std::string_view> pieces;
  for (size_t e = n; e > 0; e = from[e]) pieces.push_back(text.substr(from[e], e - from[e]));
  std::reverse(pieces.begin(), pieces.end());
  std::vector<int64_t> ids;
  for (auto p : pieces) EmitPiece(p, &ids);
  return ids;
}

std::vector<int64_t> SpmCodec::Encode(std::string_view text) const {
  const std::string normalized = Normalize(text);
  if (normalized.empty()) return {};
  return model_.algorithm == SpmModel::Algorithm::kBpe ? EncodeBpe(normalized)
                                                       : EncodeUnigram(normalized);
}

std::string SpmCodec::Decode(const std::vector<int64_t>& ids, bool keep_control) const {
  std::string out, bytes;
  bool first = true;  // the dummy-prefix space of the first text piece is dropped
  auto flush_bytes = [&] {
    if (bytes.empty()) return;
    out += utf8::RepairLossy(bytes);
    bytes.clear();
  };
  for (int64_t id : ids) {
    const SpmModel::Piece& p = model_.pieces[id];
    if (p.type == SpmModel::PieceType::kByte) {
      unsigned byte;
      if (std::sscanf(p.text.c_str(), "<0x%2X>", &byte) == 1) {
        if (first && model_.add_dummy_prefix && bytes.empty() && byte == ' ') {
          first = false;
          continue;
        }
        bytes.push_back(static_cast<char>(byte));
        first = false;
      }
      continue;
    }
    flush_bytes();
    if (p.type == SpmModel::PieceType::kControl) {
      if (keep_control) out += p.text;
      continue;
    }
    if (p.type == SpmModel::PieceType::kUnknown) {
      out += model_.unk_surface;
      first = false;
      continue;
    }
    std::string text = p.text;
    if (model_.escape_whitespaces) {
      std::string replaced;
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpace.size(), kSpace) == 0) {
          replaced.push_back(' ');
          i += kSpace.size();
        } else {
          replaced.push_back(text[i++]);
        }
      }
      text = std::move(replaced);
    }
    if (first && model_.add_dummy_prefix && !model_.treat_whitespace_as_suffix && !text.empty() &&
        text[0] == ' ') {
      text.erase(0, 1);
    }
    first = false;
    out += text;
  }
  flush_bytes();
  return out;
}

}  // namespace prunegate
