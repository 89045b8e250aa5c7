// Element types that appear in checkpoints. Torch-free so that format code builds fast.
#ifndef PRUNEGATE_SERVER_MODEL_DTYPE_H_
#define PRUNEGATE_SERVER_MODEL_DTYPE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace prunegate {

// Every dtype the safetensors format defines. Only F32/F16/BF16 can become model weights; the
// others parse (so a file with an extra I64 tensor is still readable) but are rejected by Model.
enum class DType {
  kBool, kU8, kI8, kF8E5M2, kF8E4M3, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kI64, kU64, kF64,
};

// "F32" -> kF32 etc.; nullopt for an unknown name.
std::optional<DType> ParseSafetensorsDType(std::string_view name);
// kF32 -> "F32".
std::string_view SafetensorsDTypeName(DType dtype);
// Bytes per element.
size_t DTypeSize(DType dtype);
// True for F32/F16/BF16.
bool IsFloatWeightDType(DType dtype);

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_DTYPE_H_
