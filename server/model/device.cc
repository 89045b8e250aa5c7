#include "server/model/device.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include "ATen/Parallel.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "torch/cuda.h"
#include "torch/torch.h"

namespace prunegate {

absl::StatusOr<c10::Device> ParseDevice(const std::string& name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "cpu") return c10::Device(c10::kCPU);
  if (n == "cuda" || n.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (n.size() > 4 && !absl::SimpleAtoi(n.substr(5), &index)) {
      return absl::InvalidArgumentError(absl::StrCat("bad device '", name, "': expected cuda:N"));
    }
    if (index < 0) return absl::InvalidArgumentError(absl::StrCat("bad device '", name, "'"));
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          absl::StrCat("device '", name,
                       "' requested but this build of libtorch has no CUDA "
                       "device available"));
    }
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device '", name, "' does not exist: ", torch::cuda::device_count(), " CUDA devices"));
    }
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device '", name, "': expected cpu, cuda or cuda:N"));
}

absl::StatusOr<c10::ScalarType> ParseDType(const std::string& name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "float32" || n == "fp32" || n == "f32" || n == "float") return c10::kFloat;
  if (n == "bfloat16" || n == "bf16") return c10::kBFloat16;
  if (n == "float16" || n == "fp16" || n == "f16" || n == "half") return c10::kHalf;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", name, "': expected float32, bfloat16 or float16"));
}

std::string DTypeName(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat:
      return "float32";
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kHalf:
      return "float16";
    default:
      return c10::toString(dtype);
  }
}

absl::Status CheckComputeSupported(c10::Device device, c10::ScalarType dtype) {
  try {
    auto opts = torch::TensorOptions().dtype(dtype).device(device);
    at::Tensor a = torch::ones({2, 2}, opts);
    (void)torch::mm(a, a);
    (void)torch::mv(a, a[0]);
  } catch (const c10::Error& e) {
    return absl::FailedPreconditionError(absl::StrCat(
        DTypeName(dtype), " matrix products are not available on ", device.str(),
        " in this libtorch (", e.what_without_backtrace(), "); use bfloat16 or float32 on CPU"));
  }
  return absl::OkStatus();
}

namespace {
using SetFn = void (*)(int);
using GetFn = int (*)();
template <typename Fn>
Fn BlasSymbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, name));
}
}  // namespace

void SetComputeThreads(int n) {
  if (n <= 0) return;
  // For BLAS libraries that read the environment lazily (before their first call).
  setenv("OPENBLAS_NUM_THREADS", std::to_string(n).c_str(), 1);
  setenv("OMP_NUM_THREADS", std::to_string(n).c_str(), 1);
  at::set_num_threads(n);
  if (auto fn = BlasSymbol<SetFn>("openblas_set_num_threads")) fn(n);
}

void ReexecWithPassiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with libgomp's default policy.
}

int TorchThreads() { return at::get_num_threads(); }

int BlasThreads() {
  if (auto fn = BlasSymbol<GetFn>("openblas_get_num_threads")) return fn();
  return -1;
}

}  // namespace prunegate
