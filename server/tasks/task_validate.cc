#include "server/tasks/task_validate.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace prunegate::tasks {
namespace {

constexpr int kMaxNewTokensLimit = 1 << 20;

bool IsBlank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::Status CheckInfo(const ItemInfo& info) {
  if (info.id.empty()) return Invalid("empty id");
  if (info.task.empty()) return Invalid("empty task");
  return absl::OkStatus();
}

std::string Quote(const std::string& s) { return absl::StrCat("\"", s, "\""); }

}  // namespace

absl::Status ValidateGenerationItem(const GenerationItem& item) {
  if (absl::Status s = CheckInfo(item.info); !s.ok()) return s;
  if (IsBlank(item.prompt)) return Invalid("empty prompt");
  if (item.scoring == Scoring::kExactMatch) {
    if (!item.reference.has_value()) return Invalid("exact_match scoring needs a reference");
    if (IsBlank(*item.reference)) return Invalid("empty reference");
  }
  if (item.max_new_tokens.has_value() &&
      (*item.max_new_tokens <= 0 || *item.max_new_tokens > kMaxNewTokensLimit)) {
    return Invalid(absl::StrCat("max_new_tokens ", *item.max_new_tokens, " is outside [1, ",
                                kMaxNewTokensLimit, "]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateMultipleChoiceItem(const MultipleChoiceItem& item) {
  if (absl::Status s = CheckInfo(item.info); !s.ok()) return s;
  if (IsBlank(item.prompt)) return Invalid("empty prompt");
  if (item.options.size() < 2) {
    return Invalid(absl::StrCat("fewer than 2 options (got ", item.options.size(), ")"));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < item.options.size(); ++i) {
    if (item.options[i].empty()) return Invalid(absl::StrCat("option ", i, " is empty"));
    if (!seen.insert(item.options[i]).second) {
      return Invalid(absl::StrCat("duplicate option ", Quote(item.options[i])));
    }
  }
  if (item.label.has_value() &&
      (*item.label < 0 || *item.label >= static_cast<int>(item.options.size()))) {
    return Invalid(absl::StrCat("label ", *item.label, " is out of range for ", item.options.size(),
                                " options"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRetrievalItem(const RetrievalItem& item) {
  if (absl::Status s = CheckInfo(item.info); !s.ok()) return s;
  if (item.documents.empty()) return Invalid("no documents");
  if (item.queries.empty()) return Invalid("no queries");
  std::set<std::string> doc_ids;
  for (size_t i = 0; i < item.documents.size(); ++i) {
    const RetrievalDocument& doc = item.documents[i];
    if (doc.id.empty()) return Invalid(absl::StrCat("documents[", i, "]: empty id"));
    if (!doc_ids.insert(doc.id).second) {
      return Invalid(absl::StrCat("documents[", i, "]: duplicate document id ", Quote(doc.id)));
    }
    if (IsBlank(doc.text)) return Invalid(absl::StrCat("documents[", i, "]: empty text"));
  }
  std::set<std::string> query_ids;
  for (size_t i = 0; i < item.queries.size(); ++i) {
    const RetrievalQuery& query = item.queries[i];
    const std::string where = absl::StrCat("queries[", i, "]: ");
    if (query.id.empty()) return Invalid(absl::StrCat(where, "empty id"));
    if (!query_ids.insert(query.id).second) {
      return Invalid(absl::StrCat(where, "duplicate query id ", Quote(query.id)));
    }
    if (IsBlank(query.text)) return Invalid(absl::StrCat(where, "empty text"));
    if (query.relevant.empty()) return Invalid(absl::StrCat(where, "no relevant document ids"));
    for (const std::string& id : query.relevant) {
      if (doc_ids.count(id) == 0) {
        return Invalid(
            absl::StrCat(where, "relevant id ", Quote(id), " is not among the documents"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTaskSuite(const TaskSuite& suite) {
  std::set<std::string> ids;
  const auto check = [&](const ItemInfo& info, const absl::Status& status) -> absl::Status {
    if (!status.ok()) {
      return Invalid(absl::StrCat("item ", Quote(info.id), ": ", std::string(status.message())));
    }
    if (!ids.insert(info.id).second) return Invalid(absl::StrCat("duplicate id ", Quote(info.id)));
    return absl::OkStatus();
  };
  for (const GenerationItem& item : suite.generation) {
    if (absl::Status s = check(item.info, ValidateGenerationItem(item)); !s.ok()) return s;
  }
  for (const MultipleChoiceItem& item : suite.multiple_choice) {
    if (absl::Status s = check(item.info, ValidateMultipleChoiceItem(item)); !s.ok()) return s;
  }
  for (const RetrievalItem& item : suite.retrieval) {
    if (absl::Status s = check(item.info, ValidateRetrievalItem(item)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace prunegate::tasks
