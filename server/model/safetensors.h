// Memory-mapped, validated reader for one .safetensors file (untrusted input).
//
// Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data buffer.
// Every check a malicious or truncated file could fail is made here, once, with an error that
// names the file and the tensor; callers can then trust `TensorView::data` and `nbytes`.
#ifndef PRUNEGATE_SERVER_MODEL_SAFETENSORS_H_
#define PRUNEGATE_SERVER_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/dtype.h"

namespace prunegate {

// Headers larger than this are rejected (the reference implementation's cap).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull * 1000 * 1000;

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;  // empty = scalar
  const uint8_t* data = nullptr;  // inside the mapping; valid while the file object lives
  size_t nbytes = 0;              // == numel * DTypeSize(dtype)
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Errors (INVALID_ARGUMENT unless noted), each naming the file:
  //  NOT_FOUND: file missing; file shorter than 8 bytes; header length > cap or > file size;
  //  header not valid JSON / not an object; entry not an object; unknown dtype; shape not a list
  //  of non-negative ints; data_offsets not [begin, end] with begin <= end; end beyond the data
  //  buffer; byte size != numel * dtype size; overlapping ranges; ranges leaving gaps or not
  //  covering the buffer; __metadata__ not a string->string object; duplicate tensor names.
  static absl::StatusOr<std::shared_ptr<const SafetensorsFile>> Open(const std::string& path);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in file order of their data offsets.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorView* Find(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
};

// Writes a safetensors file (used by fixture makers, the trainer and pruned-checkpoint export).
// Tensors are laid out in the order given; metadata goes to "__metadata__" when non-empty.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string bytes;  // little-endian, C order; size must equal numel * DTypeSize(dtype)
};
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_SAFETENSORS_H_
