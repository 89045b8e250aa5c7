#include "server/tasks/task_parser.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/tasks/json_fields.h"
#include "server/tasks/task_validate.h"

namespace prunegate::tasks {
namespace {

namespace fs = std::filesystem;

constexpr char kTypes[] = "generation, multiple_choice or retrieval";

// Item ids seen so far -> where they were defined.
using IdOrigins = std::map<std::string, std::string>;

absl::StatusOr<ItemInfo> ReadInfo(FieldReader& fields, const std::string& type,
                                  const std::string& origin) {
  ItemInfo info;
  info.origin = origin;
  PG_ASSIGN_OR_RETURN(info.id, fields.Id("id"));
  PG_ASSIGN_OR_RETURN(std::optional<std::string> task, fields.OptionalString("task"));
  info.task = task.value_or(type);
  PG_ASSIGN_OR_RETURN(info.meta, fields.Meta("meta"));
  return info;
}

absl::StatusOr<GenerationItem> ReadGeneration(FieldReader& fields, const std::string& origin) {
  GenerationItem item;
  PG_ASSIGN_OR_RETURN(item.info, ReadInfo(fields, "generation", origin));
  PG_ASSIGN_OR_RETURN(item.prompt, fields.String("prompt"));
  PG_ASSIGN_OR_RETURN(item.reference, fields.OptionalString("reference"));
  PG_ASSIGN_OR_RETURN(std::optional<std::string> scoring, fields.OptionalString("scoring"));
  if (scoring) {
    std::optional<Scoring> parsed = ParseScoring(*scoring);
    if (!parsed) {
      return fields.FieldError("scoring", absl::StrCat("unknown scoring \"", *scoring,
                                                       "\" (expected exact_match or "
                                                       "baseline_agreement)"));
    }
    item.scoring = *parsed;
  } else {
    item.scoring = item.reference ? Scoring::kExactMatch : Scoring::kBaselineAgreement;
  }
  PG_ASSIGN_OR_RETURN(std::optional<int64_t> max_new, fields.OptionalInt("max_new_tokens"));
  if (max_new) item.max_new_tokens = static_cast<int>(*max_new);
  PG_RETURN_IF_ERROR(fields.CheckNoUnknownFields());
  PG_RETURN_IF_ERROR(ValidateGenerationItem(item));
  return item;
}

absl::StatusOr<MultipleChoiceItem> ReadMultipleChoice(FieldReader& fields,
                                                      const std::string& origin) {
  MultipleChoiceItem item;
  PG_ASSIGN_OR_RETURN(item.info, ReadInfo(fields, "multiple_choice", origin));
  PG_ASSIGN_OR_RETURN(item.prompt, fields.String("prompt"));
  PG_ASSIGN_OR_RETURN(item.options, fields.StringArray("options"));
  PG_ASSIGN_OR_RETURN(std::optional<int64_t> label, fields.OptionalInt("label"));
  if (label) item.label = static_cast<int>(*label);
  PG_RETURN_IF_ERROR(fields.CheckNoUnknownFields());
  PG_RETURN_IF_ERROR(ValidateMultipleChoiceItem(item));
  return item;
}

// Reads the objects of array `key` with `read(FieldReader&)`.
template <typename T, typename ReadFn>
absl::StatusOr<std::vector<T>> ReadObjects(FieldReader& fields, const std::string& key,
                                           ReadFn read) {
  PG_ASSIGN_OR_RETURN(const Json* array, fields.Array(key));
  std::vector<T> out;
  for (size_t i = 0; i < array->size(); ++i) {
    const Json& element = (*array)[i];
    const std::string path = absl::StrCat(key, "[", i, "]");
    if (!element.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": expected an object, got ", TypeName(element)));
    }
    FieldReader sub(element, path);
    PG_ASSIGN_OR_RETURN(T value, read(sub));
    PG_RETURN_IF_ERROR(sub.CheckNoUnknownFields());
    out.push_back(std::move(value));
  }
  return out;
}

absl::StatusOr<RetrievalItem> ReadRetrieval(FieldReader& fields, const std::string& origin) {
  RetrievalItem item;
  PG_ASSIGN_OR_RETURN(item.info, ReadInfo(fields, "retrieval", origin));
  PG_ASSIGN_OR_RETURN(
      item.documents,
      ReadObjects<RetrievalDocument>(fields, "documents",
                                     [](FieldReader& doc) -> absl::StatusOr<RetrievalDocument> {
                                       RetrievalDocument out;
                                       PG_ASSIGN_OR_RETURN(out.id, doc.Id("id"));
                                       PG_ASSIGN_OR_RETURN(out.text, doc.String("text"));
                                       return out;
                                     }));
  PG_ASSIGN_OR_RETURN(
      item.queries,
      ReadObjects<RetrievalQuery>(fields, "queries",
                                  [](FieldReader& query) -> absl::StatusOr<RetrievalQuery> {
                                    RetrievalQuery out;
                                    PG_ASSIGN_OR_RETURN(out.id, query.Id("id"));
                                    PG_ASSIGN_OR_RETURN(out.text, query.String("text"));
                                    PG_ASSIGN_OR_RETURN(out.relevant, query.IdArray("relevant"));
                                    return out;
                                  }));
  PG_RETURN_IF_ERROR(fields.CheckNoUnknownFields());
  PG_RETURN_IF_ERROR(ValidateRetrievalItem(item));
  return item;
}

// Parses one non-blank line into `suite`; errors carry no location (the caller adds it).
absl::Status ParseLine(std::string_view line, const std::string& origin, TaskSuite* suite,
                       std::string* id) {
  Json obj;
  try {
    obj = Json::parse(line.begin(), line.end());
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON (", e.what(), ")"));
  }
  if (!obj.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("expected a JSON object, got ", TypeName(obj)));
  }
  FieldReader fields(obj, "");
  PG_ASSIGN_OR_RETURN(std::string type, fields.String("type"));
  if (type == "generation") {
    PG_ASSIGN_OR_RETURN(GenerationItem item, ReadGeneration(fields, origin));
    *id = item.info.id;
    suite->generation.push_back(std::move(item));
  } else if (type == "multiple_choice") {
    PG_ASSIGN_OR_RETURN(MultipleChoiceItem item, ReadMultipleChoice(fields, origin));
    *id = item.info.id;
    suite->multiple_choice.push_back(std::move(item));
  } else if (type == "retrieval") {
    PG_ASSIGN_OR_RETURN(RetrievalItem item, ReadRetrieval(fields, origin));
    *id = item.info.id;
    suite->retrieval.push_back(std::move(item));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown type \"", type, "\" (expected ", kTypes, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckUniqueId(const std::string& id, const std::string& origin, IdOrigins* ids) {
  auto [it, inserted] = ids->emplace(id, origin);
  if (inserted) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(origin, ": duplicate id \"", id, "\" (first used at ", it->second, ")"));
}

absl::StatusOr<TaskSuite> ParseWithIds(std::string_view text, const std::string& source,
                                       IdOrigins* ids) {
  TaskSuite suite;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const std::string origin = absl::StrCat(source, ":", line_no);
    std::string id;
    absl::Status status = ParseLine(line, origin, &suite, &id);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": ", std::string(status.message())));
    }
    PG_RETURN_IF_ERROR(CheckUniqueId(id, origin, ids));
  }
  return suite;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (fs::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, expected a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat(path, ": cannot open"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read failed"));
  return buffer.str();
}

template <typename T>
void MoveAppend(std::vector<T>* from, std::vector<T>* to) {
  std::move(from->begin(), from->end(), std::back_inserter(*to));
}

}  // namespace

absl::StatusOr<TaskSuite> ParseTaskJsonl(std::string_view text, const std::string& source) {
  IdOrigins ids;
  return ParseWithIds(text, source, &ids);
}

absl::StatusOr<TaskSuite> ParseTaskFile(const std::string& path) {
  PG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseTaskJsonl(text, path);
}

absl::StatusOr<TaskSuite> LoadTaskDir(const std::string& dir) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  if (!fs::is_directory(status)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": is not a directory"));
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".jsonl" && it->is_regular_file(ec)) names.push_back(p.filename());
  }
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  if (names.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no *.jsonl task files"));
  std::sort(names.begin(), names.end());
  TaskSuite suite;
  IdOrigins ids;
  for (const std::string& name : names) {
    const std::string path = (fs::path(dir) / name).string();
    PG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    PG_ASSIGN_OR_RETURN(TaskSuite part, ParseWithIds(text, path, &ids));
    MoveAppend(&part.generation, &suite.generation);
    MoveAppend(&part.multiple_choice, &suite.multiple_choice);
    MoveAppend(&part.retrieval, &suite.retrieval);
  }
  return suite;
}

}  // namespace prunegate::tasks
