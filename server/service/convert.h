// Library results -> wire messages, and wire items -> library task items. Torch-free header.
#ifndef PRUNEGATE_SERVER_SERVICE_CONVERT_H_
#define PRUNEGATE_SERVER_SERVICE_CONVERT_H_

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "prunegate/v1/prunegate.pb.h"
#include "server/service/registry.h"
#include "server/tasks/task.h"
#include "server/verdict/verdict.h"

namespace prunegate::probe {
struct VectorStats;
struct LogitStats;
struct ProbStats;
struct RowStats;
struct SubspaceStats;
struct Distribution;
struct KlSummary;
}  // namespace prunegate::probe

namespace prunegate::service {

void ToProto(const ModelInfo& info, v1::ModelInfo* out);

void ToProto(const probe::VectorStats& stats, v1::VectorStats* out);
void ToProto(const probe::LogitStats& stats, v1::LogitStats* out);
void ToProto(const probe::ProbStats& stats, v1::ProbStats* out);
// The logit statistics and one ProbStats per temperature.
void ToProto(const probe::RowStats& stats, v1::LogitStats* logits,
             google::protobuf::RepeatedPtrField<v1::ProbStats>* probs);
void ToProto(const probe::SubspaceStats& stats, v1::SubspaceStats* out);
void ToProto(const probe::KlSummary& summary, v1::KlSummary* out);

v1::Verdict ToProto(verdict::Level level);
v1::TaskType ToProto(verdict::TaskType task);
// The assessment without its JSON report (the caller adds AssessmentJson).
void ToProto(const verdict::Assessment& assessment, v1::Assessment* out);

// `field` names the item in errors ("choices[3]"); an empty id becomes "<index>".
// INVALID_ARGUMENT for what tasks::ValidateMultipleChoiceItem / ValidateRetrievalItem reject.
absl::StatusOr<tasks::MultipleChoiceItem> FromProto(const v1::ChoiceItem& item, int index,
                                                    const char* field);
absl::StatusOr<tasks::RetrievalItem> FromProto(const v1::RetrievalSet& set, int index,
                                               const char* field);

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_CONVERT_H_
