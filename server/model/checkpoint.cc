#include "server/model/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"

namespace prunegate {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kIndexFile[] = "model.safetensors.index.json";
constexpr char kSingleFile[] = "model.safetensors";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read failed"));
  return contents.str();
}

// Shard names come from an untrusted index: plain file names inside the checkpoint directory.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos &&
         name.find("..") == std::string::npos && name != ".";
}

// Parses model.safetensors.index.json into tensor -> shard file name.
absl::StatusOr<std::map<std::string, std::string>> ParseIndex(const std::string& index_path) {
  PG_ASSIGN_OR_RETURN(std::string text, ReadFile(index_path));
  Json index;
  try {
    index = Json::parse(text);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": not valid JSON: ", e.what()));
  }
  if (!index.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": expected a JSON object"));
  }
  auto map_it = index.find("weight_map");
  if (map_it == index.end() || !map_it->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, ": missing \"weight_map\" object (tensor name -> shard file)"));
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map entry for tensor '", tensor, "' is not a string"));
    }
    const std::string& shard_name = shard.get_ref<const std::string&>();
    if (!IsPlainFileName(shard_name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": tensor '", tensor, "' maps to shard '", shard_name,
                       "', which is not a plain file name inside the checkpoint directory"));
    }
    weight_map[tensor] = shard_name;
  }
  if (weight_map.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": weight_map lists no tensors"));
  }
  return weight_map;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": checkpoint directory does not exist"));
  }
  if (!fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": checkpoint path is not a directory"));
  }
  auto checkpoint = std::unique_ptr<Checkpoint>(new Checkpoint());
  checkpoint->dir_ = dir;
  const std::string index_path = (fs::path(dir) / kIndexFile).string();
  const std::string single_path = (fs::path(dir) / kSingleFile).string();

  std::map<std::string, std::string> weight_map;  // empty: unsharded
  std::vector<std::string> shard_names;
  if (fs::exists(index_path, ec)) {
    PG_ASSIGN_OR_RETURN(weight_map, ParseIndex(index_path));
    std::map<std::string, bool> seen;
    for (const auto& [tensor, shard] : weight_map) {
      if (seen.emplace(shard, true).second) shard_names.push_back(shard);
    }
  } else if (fs::exists(single_path, ec)) {
    shard_names.push_back(kSingleFile);
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, ": neither ", kIndexFile, " nor ", kSingleFile, " exists"));
  }

  for (const std::string& shard : shard_names) {
    const std::string shard_path = (fs::path(dir) / shard).string();
    absl::StatusOr<std::shared_ptr<const SafetensorsFile>> file = SafetensorsFile::Open(shard_path);
    if (!file.ok()) {
      if (weight_map.empty()) return file.status();
      return absl::Status(file.status().code(),
                          absl::StrCat("shard '", shard, "' listed in ", index_path, ": ",
                                       file.status().message()));
    }
    const size_t file_index = checkpoint->files_.size();
    checkpoint->files_.push_back(*std::move(file));
    const SafetensorsFile& opened = *checkpoint->files_.back();
    for (const auto& [key, value] : opened.metadata()) checkpoint->metadata_.emplace(key, value);
    for (const TensorView& view : opened.tensors()) {
      auto [it, inserted] =
          checkpoint->index_.emplace(view.name, std::make_pair(file_index, &view));
      if (!inserted) {
        return absl::InvalidArgumentError(
            absl::StrCat(dir, ": tensor '", view.name, "' is stored in two shards: ",
                         checkpoint->files_[it->second.first]->path(), " and ", opened.path()));
      }
    }
  }

  for (const auto& [tensor, shard] : weight_map) {
    auto it = checkpoint->index_.find(tensor);
    const std::string shard_path = (fs::path(dir) / shard).string();
    if (it == checkpoint->index_.end() ||
        checkpoint->files_[it->second.first]->path() != shard_path) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": tensor '", tensor,
                                                     "' is mapped to ", shard_path,
                                                     ", which does not contain it"));
    }
  }
  return checkpoint;
}

const TensorView* Checkpoint::Find(const std::string& name) const {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second.second;
  // safetensors' save_model drops shared tensors and records {"removed": "kept"} in metadata.
  auto alias = metadata_.find(name);
  if (alias == metadata_.end()) return nullptr;
  it = index_.find(alias->second);
  return it == index_.end() ? nullptr : it->second.second;
}

std::shared_ptr<const SafetensorsFile> Checkpoint::FileOf(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    auto alias = metadata_.find(name);
    if (alias == metadata_.end()) return nullptr;
    it = index_.find(alias->second);
    if (it == index_.end()) return nullptr;
  }
  return files_[it->second.first];
}

std::vector<std::string> Checkpoint::TensorNames() const {
  std::vector<std::string> names;
  names.reserve(index_.size());
  for (const auto& [name, entry] : index_) names.push_back(name);
  return names;
}

size_t Checkpoint::total_bytes() const {
  size_t total = 0;
  for (const auto& file : files_) {
    for (const TensorView& view : file->tensors()) total += view.nbytes;
  }
  return total;
}

}  // namespace prunegate
