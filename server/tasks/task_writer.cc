#include "server/tasks/task_writer.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/tasks/task_validate.h"

namespace prunegate::tasks {
namespace {

using OrderedJson = nlohmann::ordered_json;

OrderedJson Header(const char* type, const ItemInfo& info) {
  OrderedJson out = OrderedJson::object();
  out["type"] = type;
  out["id"] = info.id;
  out["task"] = info.task;
  return out;
}

void AddMeta(const ItemInfo& info, OrderedJson* out) {
  if (info.meta.empty()) return;
  OrderedJson meta = OrderedJson::object();
  for (const auto& [key, value] : info.meta) meta[key] = value;
  (*out)["meta"] = std::move(meta);
}

absl::StatusOr<std::string> Dump(const OrderedJson& value, const ItemInfo& info) {
  try {
    return value.dump(-1, ' ', /*ensure_ascii=*/false, OrderedJson::error_handler_t::strict);
  } catch (const OrderedJson::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("item \"", info.id, "\": cannot write as JSON (", e.what(), ")"));
  }
}

}  // namespace

absl::StatusOr<std::string> ToJsonLine(const GenerationItem& item) {
  OrderedJson out = Header("generation", item.info);
  out["prompt"] = item.prompt;
  if (item.reference) out["reference"] = *item.reference;
  out["scoring"] = ScoringName(item.scoring);
  if (item.max_new_tokens) out["max_new_tokens"] = *item.max_new_tokens;
  AddMeta(item.info, &out);
  return Dump(out, item.info);
}

absl::StatusOr<std::string> ToJsonLine(const MultipleChoiceItem& item) {
  OrderedJson out = Header("multiple_choice", item.info);
  out["prompt"] = item.prompt;
  out["options"] = item.options;
  if (item.label) out["label"] = *item.label;
  AddMeta(item.info, &out);
  return Dump(out, item.info);
}

absl::StatusOr<std::string> ToJsonLine(const RetrievalItem& item) {
  OrderedJson out = Header("retrieval", item.info);
  OrderedJson queries = OrderedJson::array();
  for (const RetrievalQuery& q : item.queries) {
    queries.push_back(OrderedJson{{"id", q.id}, {"text", q.text}, {"relevant", q.relevant}});
  }
  OrderedJson documents = OrderedJson::array();
  for (const RetrievalDocument& d : item.documents) {
    documents.push_back(OrderedJson{{"id", d.id}, {"text", d.text}});
  }
  out["queries"] = std::move(queries);
  out["documents"] = std::move(documents);
  AddMeta(item.info, &out);
  return Dump(out, item.info);
}

absl::StatusOr<std::string> SerializeTaskJsonl(const TaskSuite& suite) {
  PG_RETURN_IF_ERROR(ValidateTaskSuite(suite));
  std::string text;
  const auto append = [&text](absl::StatusOr<std::string> line) -> absl::Status {
    if (!line.ok()) return line.status();
    text += *line;
    text += '\n';
    return absl::OkStatus();
  };
  for (const auto& item : suite.generation) PG_RETURN_IF_ERROR(append(ToJsonLine(item)));
  for (const auto& item : suite.multiple_choice) PG_RETURN_IF_ERROR(append(ToJsonLine(item)));
  for (const auto& item : suite.retrieval) PG_RETURN_IF_ERROR(append(ToJsonLine(item)));
  return text;
}

absl::Status WriteTaskFile(const std::string& path, const TaskSuite& suite) {
  PG_ASSIGN_OR_RETURN(std::string text, SerializeTaskJsonl(suite));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace prunegate::tasks
