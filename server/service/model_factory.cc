#include "server/service/model_factory.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/model/config.h"
#include "server/model/device.h"
#include "server/model/model.h"
#include "server/model/tokenizer.h"
#include "server/model/weights.h"
#include "server/prune/drop.h"
#include "server/tasks/task_parser.h"
#include "server/verdict/assess.h"

namespace prunegate::service {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxCalibrationSequences = 64;
constexpr int64_t kCalibrationItemsPerTask = 4;

void FillInfo(const Model& model, ModelInfo* info) {
  const ModelConfig& config = model.config();
  info->architecture = ArchitectureName(config.architecture);
  info->device = model.device().str();
  info->dtype = DTypeName(model.dtype());
  info->num_layers = model.num_layers();
  info->hidden_size = static_cast<int>(config.hidden_size);
  info->vocab_size = static_cast<int>(config.vocab_size);
  info->parameters = model.parameter_count();
  info->bytes_resident = model.bytes();
}

// Texts of every item in `suite`: generation prompts with their references, multiple-choice
// prompts, retrieval documents and queries.
std::vector<std::string> TaskTexts(const tasks::TaskSuite& suite) {
  std::vector<std::string> texts;
  for (const auto& item : suite.generation) {
    texts.push_back(item.reference ? item.prompt + *item.reference : item.prompt);
  }
  for (const auto& item : suite.multiple_choice) texts.push_back(item.prompt);
  for (const auto& item : suite.retrieval) {
    for (const auto& doc : item.documents) texts.push_back(doc.text);
    for (const auto& query : item.queries) texts.push_back(query.text);
  }
  return texts;
}

std::string DescribeRecipe(const DeriveSpec& spec, const std::vector<int>& layers) {
  std::string recipe =
      absl::StrCat(prune::DropKindName(spec.kind), " layers ", absl::StrJoin(layers, ","));
  if (spec.count > 0) {
    absl::StrAppend(&recipe, " (", spec.count, " chosen by importance score, ",
                    spec.selection == prune::Selection::kIterative ? "iterative" : "one-shot", ")");
  }
  return recipe;
}

}  // namespace

absl::StatusOr<std::string> CanonicalDevice(const std::string& device) {
  PG_ASSIGN_OR_RETURN(c10::Device parsed, ParseDevice(device));
  return parsed.str();
}

absl::Status ValidateDType(const std::string& dtype) { return ParseDType(dtype).status(); }

int64_t EstimateLoadBytes(const std::string& dir, const std::string& dtype) {
  std::error_code ec;
  int64_t stored = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".safetensors" && it->is_regular_file(ec)) {
      stored += static_cast<int64_t>(it->file_size(ec));
    }
  }
  size_t stored_width = 4;
  if (absl::StatusOr<ModelConfig> config = LoadModelConfig(dir); config.ok()) {
    if (auto type = ParseDType(config->torch_dtype); type.ok()) {
      stored_width = c10::elementSize(*type);
    }
  }
  size_t target_width = 4;
  if (auto type = ParseDType(dtype); type.ok()) target_width = c10::elementSize(*type);
  return stored / static_cast<int64_t>(stored_width) * static_cast<int64_t>(target_width);
}

absl::StatusOr<std::shared_ptr<ResidentModel>> LoadResident(const std::string& name,
                                                            const std::string& dir,
                                                            const std::string& device,
                                                            const std::string& dtype) {
  PG_ASSIGN_OR_RETURN(c10::Device parsed_device, ParseDevice(device));
  PG_ASSIGN_OR_RETURN(c10::ScalarType parsed_dtype, ParseDType(dtype));
  PG_RETURN_IF_ERROR(CheckComputeSupported(parsed_device, parsed_dtype));
  auto resident = std::make_shared<ResidentModel>();
  PG_ASSIGN_OR_RETURN(resident->model, Model::Load(dir, {device, dtype}));
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir);
  if (tokenizer.ok()) {
    resident->tokenizer = std::move(tokenizer).value();
  } else if (!absl::IsNotFound(tokenizer.status())) {
    return tokenizer.status();
  }
  resident->checkpoint_dir = dir;
  resident->info.name = name;
  resident->info.path = dir;
  FillInfo(*resident->model, &resident->info);
  return resident;
}

absl::Status ValidateRecipe(const DeriveSpec& spec, const ResidentModel& baseline) {
  const int num_layers = baseline.model->num_layers();
  if (!spec.layers.empty() && spec.count != 0) {
    return absl::InvalidArgumentError("give either recipe.layers or recipe.count, not both");
  }
  if (spec.layers.empty() && spec.count == 0) {
    return absl::InvalidArgumentError(
        "recipe needs the layers to drop (recipe.layers) or how many to choose (recipe.count)");
  }
  if (spec.count < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("recipe.count must be positive, got ", spec.count));
  }
  if (spec.count > num_layers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "recipe.count ", spec.count, " exceeds the baseline's ", num_layers, " layers"));
  }
  if (spec.count == 0 && !spec.calibration_texts.empty()) {
    return absl::InvalidArgumentError(
        "recipe.calibration_texts only apply when the layers are chosen by recipe.count");
  }
  std::set<int> seen;
  for (int layer : spec.layers) {
    if (layer < 0 || layer >= num_layers) {
      return absl::InvalidArgumentError(absl::StrCat("recipe.layers: layer ", layer,
                                                     " is outside [0, ", num_layers, ") of ",
                                                     baseline.info.name));
    }
    if (!seen.insert(layer).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("recipe.layers: layer ", layer, " is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<tasks::TaskSuite> CheckpointTaskItems(const ResidentModel& model, int64_t per_task) {
  const std::string tasks_dir = model.checkpoint_dir + "/tasks";
  std::error_code ec;
  if (model.checkpoint_dir.empty() || !fs::is_directory(tasks_dir, ec)) return tasks::TaskSuite();
  PG_ASSIGN_OR_RETURN(tasks::TaskSuite suite, tasks::LoadTaskDir(tasks_dir));
  return tasks::FirstItemsPerTask(suite, per_task);
}

absl::StatusOr<std::vector<std::vector<int64_t>>> CalibrationSequences(
    const std::vector<std::string>& texts, const ResidentModel& baseline) {
  std::vector<std::string> chosen = texts;
  if (chosen.empty()) {
    PG_ASSIGN_OR_RETURN(tasks::TaskSuite suite,
                        CheckpointTaskItems(baseline, kCalibrationItemsPerTask));
    chosen = TaskTexts(suite);
  }
  if (chosen.empty()) chosen = verdict::BuiltinGenerationPrompts();
  if (baseline.tokenizer == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", baseline.info.name,
                     " has no tokenizer, so no calibration text can be encoded; give the "
                     "layers to drop explicitly"));
  }
  const auto context = static_cast<size_t>(baseline.model->config().max_position_embeddings);
  std::vector<std::vector<int64_t>> sequences;
  for (const std::string& text : chosen) {
    if (sequences.size() == kMaxCalibrationSequences) break;
    PG_ASSIGN_OR_RETURN(std::vector<int64_t> ids, baseline.tokenizer->Encode(text, true));
    if (ids.empty()) continue;
    if (ids.size() > context) ids.resize(context);
    sequences.push_back(std::move(ids));
  }
  if (sequences.empty()) {
    return absl::InvalidArgumentError("recipe.calibration_texts encode to no tokens");
  }
  return sequences;
}

absl::StatusOr<std::shared_ptr<ResidentModel>> DeriveResident(const DeriveSpec& spec,
                                                              const ResidentModel& baseline) {
  std::vector<int> layers = spec.layers;
  std::vector<LayerImportance> importance;
  if (spec.count > 0) {
    PG_ASSIGN_OR_RETURN(auto calibration, CalibrationSequences(spec.calibration_texts, baseline));
    PG_ASSIGN_OR_RETURN(auto scores,
                        prune::ScoreImportance(baseline.model, spec.kind, calibration));
    for (const prune::ImportanceScore& score : scores) {
      importance.push_back({score.layer, score.similarity});
    }
    PG_ASSIGN_OR_RETURN(layers, prune::ChooseLayers(baseline.model, spec.kind, spec.count,
                                                    calibration, spec.selection));
  }
  auto resident = std::make_shared<ResidentModel>();
  PG_ASSIGN_OR_RETURN(resident->model, prune::DropLayers(*baseline.model, spec.kind, layers));
  resident->tokenizer = baseline.tokenizer;
  resident->checkpoint_dir = baseline.checkpoint_dir;
  ModelInfo& info = resident->info;
  info.name = spec.name;
  FillInfo(*resident->model, &info);
  info.bytes_shared = resident->model->bytes_shared_with(*baseline.model);
  info.baseline = spec.baseline;
  info.recipe = DescribeRecipe(spec, layers);
  info.dropped_layers = layers;
  info.importance = std::move(importance);
  return resident;
}

int64_t DistinctBytes(const std::vector<const Model*>& models) {
  std::map<const void*, int64_t> storages;
  for (const Model* model : models) {
    ForEachWeight(model->weights(), [&](const std::string&, const at::Tensor& t) {
      storages[t.storage().data()] = static_cast<int64_t>(t.storage().nbytes());
    });
  }
  int64_t total = 0;
  for (const auto& [ptr, bytes] : storages) total += bytes;
  return total;
}

}  // namespace prunegate::service
