// Devices, dtypes and CPU thread settings for the engine.
#ifndef PRUNEGATE_SERVER_MODEL_DEVICE_H_
#define PRUNEGATE_SERVER_MODEL_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "c10/core/Device.h"
#include "c10/core/ScalarType.h"

namespace prunegate {

// "cpu", "cuda" or "cuda:N". INVALID_ARGUMENT for anything else; FAILED_PRECONDITION for cuda
// when this libtorch has no CUDA or the ordinal does not exist.
absl::StatusOr<c10::Device> ParseDevice(const std::string& name);
// "float32"/"fp32"/"f32", "bfloat16"/"bf16", "float16"/"fp16"/"f16".
absl::StatusOr<c10::ScalarType> ParseDType(const std::string& name);
std::string DTypeName(c10::ScalarType dtype);  // "float32", "bfloat16", "float16"

// FAILED_PRECONDITION when this libtorch cannot run matrix products in `dtype` on `device`
// (libtorch 1.13 has no float16 GEMM on CPU; 2.x does), probed with a 2x2 product.
absl::Status CheckComputeSupported(c10::Device device, c10::ScalarType dtype);

// Sets libtorch's intra-op threads and OpenBLAS's GEMM threads (OpenBLAS ignores libtorch's
// setting; see TOOLCHAIN.md trap 4). n <= 0 leaves the defaults.
void SetComputeThreads(int n);
// Makes OpenMP threads sleep instead of spinning between parallel regions. libtorch's
// element-wise ops run on libgomp threads that, by default, busy-wait after each region and take
// the cores from OpenBLAS's GEMM threads: measured here, a training step went from 2.6-3.3 s to
// 1.8 s with OMP_WAIT_POLICY=PASSIVE. libgomp reads the variable when it loads, before main, so
// when it is unset this sets it and re-executes the program (/proc/self/exe) with the same
// arguments; it returns normally when the variable is already set or exec fails. Call first
// thing in main of every binary that runs models.
void ReexecWithPassiveOpenMpWait(char** argv);

// The thread counts in force: libtorch intra-op and OpenBLAS (-1 when OpenBLAS is not loaded).
int TorchThreads();
int BlasThreads();

}  // namespace prunegate

#endif  // PRUNEGATE_SERVER_MODEL_DEVICE_H_
