#include "client/input_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/tasks/task_parser.h"

namespace prunegate::client {
namespace {

absl::Status NoItems(const std::string& path, const char* kind) {
  return absl::InvalidArgumentError(absl::StrCat(path, " has no ", kind, " items"));
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return text.str();
}

absl::StatusOr<std::vector<std::string>> ReadTextLines(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    if (!absl::StripAsciiWhitespace(line).empty()) lines.emplace_back(line);
  }
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " holds no text"));
  return lines;
}

absl::StatusOr<tasks::TaskSuite> LoadTaskSuite(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) return tasks::LoadTaskDir(path);
  return tasks::ParseTaskFile(path);
}

absl::StatusOr<std::vector<std::string>> GenerationPrompts(const tasks::TaskSuite& suite,
                                                           const std::string& path) {
  if (suite.generation.empty()) return NoItems(path, "generation");
  std::vector<std::string> prompts;
  for (const tasks::GenerationItem& item : suite.generation) prompts.push_back(item.prompt);
  return prompts;
}

absl::StatusOr<std::vector<v1::ChoiceItem>> ChoiceItems(const tasks::TaskSuite& suite,
                                                        const std::string& path) {
  if (suite.multiple_choice.empty()) return NoItems(path, "multiple_choice");
  std::vector<v1::ChoiceItem> items;
  for (const tasks::MultipleChoiceItem& item : suite.multiple_choice) {
    v1::ChoiceItem& out = items.emplace_back();
    out.set_id(item.info.id);
    out.set_prompt(item.prompt);
    for (const std::string& option : item.options) out.add_options(option);
    if (item.label.has_value()) out.set_label(*item.label);
  }
  return items;
}

absl::StatusOr<std::vector<v1::RetrievalSet>> RetrievalSets(const tasks::TaskSuite& suite,
                                                            const std::string& path) {
  if (suite.retrieval.empty()) return NoItems(path, "retrieval");
  std::vector<v1::RetrievalSet> sets;
  for (const tasks::RetrievalItem& item : suite.retrieval) {
    v1::RetrievalSet& out = sets.emplace_back();
    out.set_id(item.info.id);
    for (const tasks::RetrievalDocument& doc : item.documents) {
      v1::Document* d = out.add_documents();
      d->set_id(doc.id);
      d->set_text(doc.text);
    }
    for (const tasks::RetrievalQuery& query : item.queries) {
      v1::Query* q = out.add_queries();
      q->set_id(query.id);
      q->set_text(query.text);
      for (const std::string& id : query.relevant) q->add_relevant(id);
    }
  }
  return sets;
}

}  // namespace prunegate::client
