#include "tools/train/corpus_reader.h"

#include "server/common/status_macros.h"

namespace prunegate::train {
namespace {

// Tokens of one line (its trailing "\n" included when present) with answer weights.
absl::Status EncodeLine(const std::string& line, const Tokenizer& tok, const ReaderOptions& o,
                        Document* doc, ReaderStats* stats) {
  PG_ASSIGN_OR_RETURN(std::vector<int64_t> whole, tok.Encode(line, false));
  size_t cut = std::string::npos;
  for (const std::string& marker : o.answer_markers) {
    const size_t at = line.rfind(marker);
    if (at != std::string::npos) {
      cut = at + marker.size();
      break;
    }
  }
  if (cut != std::string::npos && cut < line.size()) {
    // The answer runs to the end of the line, its newline included: the byte-level
    // pre-tokenizer keeps trailing punctuation and the newline together (".\n").
    const std::string head = line.substr(0, cut);
    const std::string answer = line.substr(cut);
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> a, tok.Encode(head, false));
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> b, tok.Encode(answer, false));
    std::vector<int64_t> joined = a;
    joined.insert(joined.end(), b.begin(), b.end());
    if (joined == whole) {
      for (int64_t id : a) doc->ids.push_back(id), doc->weights.push_back(1.0f);
      for (int64_t id : b) doc->ids.push_back(id), doc->weights.push_back(o.answer_weight);
      stats->weighted_tokens += b.size();
      return absl::OkStatus();
    }
    ++stats->split_mismatches;
  }
  for (int64_t id : whole) doc->ids.push_back(id), doc->weights.push_back(1.0f);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Document>> ReadDocuments(const std::string& text,
                                                    const Tokenizer& tokenizer,
                                                    const ReaderOptions& options,
                                                    ReaderStats* stats) {
  std::vector<Document> docs;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) end = text.size();
    std::string body = text.substr(pos, end - pos);
    pos = end + 2;
    while (!body.empty() && body.back() == '\n') body.pop_back();
    if (body.empty()) continue;
    Document doc;
    // Documents start with BOS as prompts do at inference (Encode with special tokens).
    if (tokenizer.bos_id()) {
      doc.ids.push_back(*tokenizer.bos_id());
      doc.weights.push_back(1.0f);
    }
    size_t line_start = 0;
    while (line_start < body.size()) {
      size_t nl = body.find('\n', line_start);
      const size_t line_end = nl == std::string::npos ? body.size() : nl + 1;
      PG_RETURN_IF_ERROR(EncodeLine(body.substr(line_start, line_end - line_start), tokenizer,
                                    options, &doc, stats));
      line_start = line_end;
    }
    stats->tokens += doc.ids.size();
    ++stats->documents;
    docs.push_back(std::move(doc));
  }
  return docs;
}

}  // namespace prunegate::train
