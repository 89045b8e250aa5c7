#include "server/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"

namespace prunegate {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";

absl::Status FileError(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

absl::Status TensorError(const std::string& path, const std::string& tensor,
                         absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", tensor, "': ", what));
}

absl::Status ErrnoError(const std::string& path, absl::string_view action, int err) {
  std::string message = absl::StrCat(path, ": ", action, ": ", std::strerror(err));
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

// Reads a JSON value that must be a non-negative integer fitting int64.
bool AsNonNegativeInt(const Json& value, uint64_t* out) {
  if (value.is_number_unsigned()) {
    *out = value.get<uint64_t>();
  } else if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0) return false;
    *out = static_cast<uint64_t>(v);
  } else {
    return false;
  }
  return *out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

// Parses the header, rejecting duplicate top-level keys (nlohmann would keep the last silently).
absl::StatusOr<Json> ParseHeader(const std::string& path, const char* begin, const char* end) {
  std::set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && parsed.is_string()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(begin, end, callback);
  } catch (const Json::exception& e) {
    return FileError(path, absl::StrCat("header is not valid JSON: ", e.what()));
  }
  if (!header.is_object()) {
    return FileError(path,
                     absl::StrCat("header is a JSON ", header.type_name(), ", expected an object"));
  }
  if (!duplicate.empty()) {
    return FileError(path, absl::StrCat("header names tensor '", duplicate, "' more than once"));
  }
  return header;
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(const std::string& path,
                                                                 const Json& value) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;
  if (!value.is_object()) {
    return FileError(path, absl::StrCat("__metadata__ is a JSON ", value.type_name(),
                                        ", expected an object of strings"));
  }
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) {
      return FileError(path, absl::StrCat("__metadata__ key '", key, "' has a ", v.type_name(),
                                          " value, expected a string"));
    }
    metadata[key] = v.get<std::string>();
  }
  return metadata;
}

struct ParsedEntry {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};

absl::StatusOr<ParsedEntry> ParseEntry(const std::string& path, const std::string& name,
                                       const Json& entry, uint64_t buffer_size) {
  if (!entry.is_object()) {
    return TensorError(path, name,
                       absl::StrCat("entry is a JSON ", entry.type_name(), ", expected an object"));
  }
  ParsedEntry parsed;
  parsed.view.name = name;

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return TensorError(path, name, "missing string field 'dtype'");
  }
  const std::string& dtype_name = dtype_it->get_ref<const std::string&>();
  std::optional<DType> dtype = ParseSafetensorsDType(dtype_name);
  if (!dtype) return TensorError(path, name, absl::StrCat("unknown dtype '", dtype_name, "'"));
  parsed.view.dtype = *dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return TensorError(path, name, "missing list field 'shape'");
  }
  uint64_t numel = 1;
  bool overflow = false;
  for (const Json& dim : *shape_it) {
    uint64_t d = 0;
    if (!AsNonNegativeInt(dim, &d)) {
      return TensorError(
          path, name, absl::StrCat("shape entry ", dim.dump(), " is not a non-negative integer"));
    }
    parsed.view.shape.push_back(static_cast<int64_t>(d));
    if (d != 0 && __builtin_mul_overflow(numel, d, &numel)) overflow = true;
  }
  bool has_zero =
      std::find(parsed.view.shape.begin(), parsed.view.shape.end(), 0) != parsed.view.shape.end();
  if (has_zero) numel = 0;
  uint64_t nbytes = 0;
  if (overflow || numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      __builtin_mul_overflow(numel, DTypeSize(*dtype), &nbytes)) {
    return TensorError(path, name, "shape has too many elements (size overflows)");
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !AsNonNegativeInt((*offsets_it)[0], &parsed.begin) ||
      !AsNonNegativeInt((*offsets_it)[1], &parsed.end)) {
    return TensorError(path, name, "'data_offsets' must be [begin, end] with non-negative ints");
  }
  if (parsed.begin > parsed.end) {
    return TensorError(
        path, name,
        absl::StrCat("data_offsets begin ", parsed.begin, " is after end ", parsed.end));
  }
  if (parsed.end > buffer_size) {
    return TensorError(path, name,
                       absl::StrCat("data_offsets end ", parsed.end, " is beyond the data buffer (",
                                    buffer_size, " bytes)"));
  }
  if (parsed.end - parsed.begin != nbytes) {
    return TensorError(path, name,
                       absl::StrCat("data_offsets span ", parsed.end - parsed.begin,
                                    " bytes but shape [", absl::StrJoin(parsed.view.shape, ", "),
                                    "] of ", dtype_name, " needs ", nbytes));
  }
  parsed.view.nbytes = static_cast<size_t>(nbytes);
  return parsed;
}

// Ranges must tile the buffer exactly: sorted by begin, each begins where the previous ended.
absl::Status CheckCoverage(const std::string& path, std::vector<ParsedEntry>& entries,
                           uint64_t buffer_size) {
  std::sort(entries.begin(), entries.end(), [](const ParsedEntry& a, const ParsedEntry& b) {
    return std::tie(a.begin, a.end, a.view.name) < std::tie(b.begin, b.end, b.view.name);
  });
  uint64_t position = 0;
  const std::string* previous = nullptr;
  for (const ParsedEntry& e : entries) {
    if (e.begin < position) {
      return TensorError(path, e.view.name,
                         absl::StrCat("data range [", e.begin, ", ", e.end, ") overlaps tensor '",
                                      *previous, "'"));
    }
    if (e.begin > position) {
      return TensorError(path, e.view.name,
                         absl::StrCat("bytes [", position, ", ", e.begin,
                                      ") before this tensor belong to no tensor"));
    }
    position = e.end;
    previous = &e.view.name;
  }
  if (position != buffer_size) {
    return FileError(
        path, absl::StrCat("data buffer has ", buffer_size, " bytes but tensors cover ", position,
                           "; bytes [", position, ", ", buffer_size, ") belong to no tensor"));
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const std::string& path, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(path, "write failed", errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == 0) return 0;
  }
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<std::shared_ptr<const SafetensorsFile>> SafetensorsFile::Open(
    const std::string& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "cannot open", errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError(path, "cannot stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return FileError(path, "not a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    return FileError(
        path, absl::StrCat("file is ", file_size, " bytes, shorter than the 8-byte header length"));
  }
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) return ErrnoError(path, "mmap failed", map_errno);
  file->map_ = map;
  file->map_size_ = file_size;
  const uint8_t* bytes = static_cast<const uint8_t*>(map);

  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kMaxSafetensorsHeaderBytes) {
    return FileError(path, absl::StrCat("header length ", header_size, " exceeds the cap of ",
                                        kMaxSafetensorsHeaderBytes, " bytes"));
  }
  if (header_size > file_size - 8) {
    return FileError(path, absl::StrCat("header length ", header_size,
                                        " is beyond the end of the file (", file_size, " bytes)"));
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes + 8);
  PG_ASSIGN_OR_RETURN(Json header, ParseHeader(path, header_begin, header_begin + header_size));

  const uint8_t* buffer = bytes + 8 + header_size;
  const uint64_t buffer_size = file_size - 8 - header_size;
  std::vector<ParsedEntry> entries;
  entries.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      PG_ASSIGN_OR_RETURN(file->metadata_, ParseMetadata(path, value));
      continue;
    }
    PG_ASSIGN_OR_RETURN(ParsedEntry entry, ParseEntry(path, key, value, buffer_size));
    entries.push_back(std::move(entry));
  }
  PG_RETURN_IF_ERROR(CheckCoverage(path, entries, buffer_size));

  file->tensors_.reserve(entries.size());
  for (ParsedEntry& e : entries) {
    e.view.data = buffer + e.begin;
    file->index_[e.view.name] = file->tensors_.size();
    file->tensors_.push_back(std::move(e.view));
  }
  return std::shared_ptr<const SafetensorsFile>(std::move(file));
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[std::string(kMetadataKey)] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (t.name == kMetadataKey || t.name.empty()) {
      return TensorError(path, t.name, "reserved or empty tensor name");
    }
    if (header.contains(t.name)) return TensorError(path, t.name, "duplicate tensor name");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) return TensorError(path, t.name, "negative dimension in shape");
      if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) {
        return TensorError(path, t.name, "shape size overflows");
      }
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, DTypeSize(t.dtype), &nbytes) || nbytes != t.bytes.size()) {
      return TensorError(
          path, t.name,
          absl::StrCat("has ", t.bytes.size(), " bytes but shape [", absl::StrJoin(t.shape, ", "),
                       "] of ", std::string(SafetensorsDTypeName(t.dtype)), " needs ", nbytes));
    }
    header[t.name] = {{"dtype", std::string(SafetensorsDTypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string header_text = header.dump();
  // Pad with spaces to a multiple of 8 bytes as the reference writer does, so that the data
  // buffer starts 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) {
    prefix[i] = static_cast<char>((static_cast<uint64_t>(header_text.size()) >> (8 * i)) & 0xff);
  }

  // Write to a temporary file in the same directory, then rename over `path` atomically.
  std::string tmp_path = absl::StrCat(path, ".tmp.", ::getpid(), ".", std::random_device{}());
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(tmp_path, "cannot create", errno);
  absl::Status status = WriteAll(fd, tmp_path, prefix.data(), prefix.size());
  if (status.ok()) status = WriteAll(fd, tmp_path, header_text.data(), header_text.size());
  for (size_t i = 0; status.ok() && i < tensors.size(); ++i) {
    status = WriteAll(fd, tmp_path, tensors[i].bytes.data(), tensors[i].bytes.size());
  }
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError(tmp_path, "fsync failed", errno);
  if (::close(fd) != 0 && status.ok()) status = ErrnoError(tmp_path, "close failed", errno);
  if (status.ok() && std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    status = ErrnoError(path, "cannot rename temporary file into place", errno);
  }
  if (!status.ok()) std::remove(tmp_path.c_str());
  return status;
}

}  // namespace prunegate
