#include "server/service/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/service/model_factory.h"
#include "server/service/sandbox.h"
#include "server/service/status_mapping.h"
#include "server/service/worker_pool.h"

namespace prunegate::service {

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return "LOADING";
    case ModelState::kReady:
      return "READY";
    case ModelState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Create(const RegistryOptions& options,
                                                                     Listener listener) {
  PG_ASSIGN_OR_RETURN(std::string root, ResolveModelRoot(options.model_root));
  RegistryOptions resolved = options;
  PG_ASSIGN_OR_RETURN(resolved.default_device, CanonicalDevice(options.default_device));
  if (options.memory_budget_bytes < 0) {
    return absl::InvalidArgumentError("--memory-budget-bytes must be >= 0 (0 = unlimited)");
  }
  return std::unique_ptr<ModelRegistry>(
      new ModelRegistry(resolved, std::move(root), std::move(listener)));
}

ModelRegistry::ModelRegistry(const RegistryOptions& options, std::string root, Listener listener)
    : options_(options),
      root_(std::move(root)),
      listener_(std::move(listener)),
      pool_(std::make_unique<WorkerPool>(options.load_threads)) {}

ModelRegistry::~ModelRegistry() { pool_.reset(); }

absl::StatusOr<ModelInfo> ModelRegistry::Load(const LoadSpec& spec, Done done) {
  PG_RETURN_IF_ERROR(ValidateModelName(spec.name));
  PG_ASSIGN_OR_RETURN(std::string dir, ResolveInsideRoot(root_, spec.path));
  PG_ASSIGN_OR_RETURN(std::string device,
                      CanonicalDevice(spec.device.empty() ? options_.default_device : spec.device));
  const std::string dtype = spec.dtype.empty() ? "float32" : spec.dtype;
  PG_RETURN_IF_ERROR(ValidateDType(dtype));
  const int64_t estimate = EstimateLoadBytes(dir, dtype);
  ModelInfo info;
  {
    absl::MutexLock lock(&mu_);
    PG_RETURN_IF_ERROR(Reserve(spec.name, device, estimate, absl::StrCat("loading ", dir)));
    Entry& entry = entries_[spec.name];
    entry.info.device = device;
    entry.info.dtype = dtype;
    entry.info.path = dir;
    info = entry.info;
  }
  Publish();
  pool_->Submit([this, name = spec.name, dir, device, dtype, done = std::move(done)] {
    auto resident = CatchExceptions([&] { return LoadResident(name, dir, device, dtype); });
    Complete(name, std::move(resident), /*keep_failed=*/true, done);
  });
  return info;
}

absl::StatusOr<ModelInfo> ModelRegistry::Derive(const DeriveSpec& spec, Done done) {
  PG_RETURN_IF_ERROR(ValidateModelName(spec.name));
  PG_ASSIGN_OR_RETURN(std::shared_ptr<const ResidentModel> baseline, Get(spec.baseline));
  PG_RETURN_IF_ERROR(ValidateRecipe(spec, *baseline));
  ModelInfo info;
  {
    absl::MutexLock lock(&mu_);
    PG_RETURN_IF_ERROR(Reserve(spec.name, baseline->info.device, /*bytes=*/0,
                               absl::StrCat("deriving from ", spec.baseline)));
    Entry& entry = entries_[spec.name];
    entry.info.device = baseline->info.device;
    entry.info.dtype = baseline->info.dtype;
    entry.info.baseline = spec.baseline;
    info = entry.info;
  }
  Publish();
  pool_->Submit([this, spec, baseline = std::move(baseline), done = std::move(done)] {
    auto resident = CatchExceptions([&] { return DeriveResident(spec, *baseline); });
    Complete(spec.name, std::move(resident), /*keep_failed=*/false, done);
  });
  return info;
}

absl::Status ModelRegistry::Unload(const std::string& name) {
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat("no model named \"", name, "\""));
    }
    if (it->second.info.state == ModelState::kLoading) {
      return absl::FailedPreconditionError(
          absl::StrCat("model ", name, " is still LOADING; unload it once it is READY or FAILED"));
    }
    entries_.erase(it);
  }
  Publish();
  return absl::OkStatus();
}

std::vector<ModelInfo> ModelRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<ModelInfo> list;
  list.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) list.push_back(entry.info);
  return list;
}

absl::StatusOr<std::shared_ptr<const ResidentModel>> ModelRegistry::Get(
    const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no model named \"", name, "\""));
  }
  const Entry& entry = it->second;
  switch (entry.info.state) {
    case ModelState::kReady:
      return entry.resident;
    case ModelState::kLoading:
      return absl::FailedPreconditionError(
          absl::StrCat("model ", name, " is LOADING (", entry.info.reason, "), not READY"));
    case ModelState::kFailed:
      return absl::FailedPreconditionError(
          absl::StrCat("model ", name, " FAILED to load: ", entry.info.reason));
  }
  return absl::InternalError("unknown model state");
}

void ModelRegistry::WaitUntilIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::map<std::string, Entry>* entries) {
        for (const auto& [name, entry] : *entries) {
          if (entry.info.state == ModelState::kLoading) return false;
        }
        return true;
      },
      &entries_));
}

absl::Status ModelRegistry::Reserve(const std::string& name, const std::string& device_key,
                                    int64_t bytes, const std::string& reason) {
  auto it = entries_.find(name);
  if (it != entries_.end() && it->second.info.state != ModelState::kFailed) {
    return absl::AlreadyExistsError(absl::StrCat("a model named ", name, " already exists (",
                                                 ModelStateName(it->second.info.state), ")"));
  }
  PG_RETURN_IF_ERROR(CheckBudget(device_key, name, /*extra=*/nullptr, bytes));
  Entry entry;
  entry.info.name = name;
  entry.info.state = ModelState::kLoading;
  entry.info.reason = reason;
  entry.device_key = device_key;
  entry.reserved_bytes = bytes;
  entries_[name] = std::move(entry);
  return absl::OkStatus();
}

absl::Status ModelRegistry::CheckBudget(const std::string& device_key, const std::string& excluding,
                                        const Model* extra, int64_t extra_estimate) const {
  const int64_t budget = options_.memory_budget_bytes;
  if (budget <= 0) return absl::OkStatus();
  std::vector<const Model*> models;
  int64_t reserved = 0;
  for (const auto& [name, entry] : entries_) {
    if (name == excluding || entry.device_key != device_key) continue;
    if (entry.resident != nullptr) {
      models.push_back(entry.resident->model.get());
    } else if (entry.info.state == ModelState::kLoading) {
      reserved += entry.reserved_bytes;
    }
  }
  const int64_t current = DistinctBytes(models) + reserved;
  int64_t after = current + extra_estimate;
  if (extra != nullptr) {
    models.push_back(extra);
    after = DistinctBytes(models) + reserved + extra_estimate;
  }
  if (after <= budget) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("model ", excluding, " needs ", after - current,
                                                   " more bytes on ", device_key,
                                                   ", which already holds ", current, " of its ",
                                                   budget, "-byte budget (--memory-budget-bytes)"));
}

void ModelRegistry::Complete(const std::string& name,
                             absl::StatusOr<std::shared_ptr<ResidentModel>> resident,
                             bool keep_failed, const Done& done) {
  absl::StatusOr<ModelInfo> outcome;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {  // cannot happen: LOADING entries are never removed
      outcome = absl::InternalError(absl::StrCat("model ", name, " vanished while loading"));
    } else {
      Entry& entry = it->second;
      if (resident.ok()) {
        absl::Status budget = CheckBudget((*resident)->info.device, name, (*resident)->model.get(),
                                          /*extra_estimate=*/0);
        if (!budget.ok()) resident = budget;
      }
      if (resident.ok()) {
        (*resident)->info.state = ModelState::kReady;
        entry.info = (*resident)->info;
        entry.device_key = entry.info.device;
        entry.reserved_bytes = 0;
        entry.resident = *std::move(resident);
        outcome = entry.info;
      } else {
        outcome = resident.status();
        if (keep_failed) {
          entry.info.state = ModelState::kFailed;
          entry.info.reason = std::string(resident.status().message());
          entry.reserved_bytes = 0;
        } else {
          entries_.erase(it);
        }
      }
    }
  }
  Publish();
  if (done) done(outcome);
}

void ModelRegistry::Publish() {
  if (!listener_) return;
  absl::MutexLock lock(&publish_mu_);
  listener_(List());
}

}  // namespace prunegate::service
