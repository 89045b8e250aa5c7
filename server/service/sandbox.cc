#include "server/service/sandbox.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace prunegate::service {
namespace {

constexpr size_t kMaxNameLength = 64;

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// realpath(3) as a string; errno describes a failure.
absl::StatusOr<std::string> RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&free)> resolved(realpath(path.c_str(), nullptr), &free);
  if (resolved == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(std::strerror(err));
    if (err == EACCES) return absl::PermissionDeniedError(std::strerror(err));
    return absl::InvalidArgumentError(std::strerror(err));
  }
  return std::string(resolved.get());
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

absl::Status ValidateModelName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("model name is empty");
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("model name is ", name.size(),
                                                   " characters long; at most ", kMaxNameLength,
                                                   " are allowed"));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model name \"", name, "\" may only contain letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResolveModelRoot(const std::string& root) {
  if (root.empty()) return absl::InvalidArgumentError("the model root is not set (--model-root)");
  absl::StatusOr<std::string> resolved = RealPath(root);
  if (!resolved.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model root ", root, ": ", resolved.status().message()));
  }
  if (!IsDirectory(*resolved)) {
    return absl::InvalidArgumentError(absl::StrCat("model root ", root, " is not a directory"));
  }
  return resolved;
}

absl::StatusOr<std::string> ResolveInsideRoot(const std::string& root, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("checkpoint path is empty");
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("checkpoint path contains a NUL byte");
  }
  const std::string joined = path.front() == '/' ? path : absl::StrCat(root, "/", path);
  absl::StatusOr<std::string> resolved = RealPath(joined);
  if (!resolved.ok()) {
    if (absl::IsNotFound(resolved.status())) {
      // Only say "not found" for paths that would lie inside the root; anything else could
      // probe the file system outside it.
      const bool lexically_inside = path.front() != '/' || absl::StartsWith(path, root + "/");
      if (!lexically_inside || absl::StrContains(path, "..")) {
        return absl::PermissionDeniedError(
            absl::StrCat("checkpoint path ", path, " is outside the model root"));
      }
      return absl::NotFoundError(
          absl::StrCat("checkpoint directory ", path, " does not exist under the model root"));
    }
    return absl::Status(resolved.status().code(),
                        absl::StrCat("checkpoint path ", path, ": ", resolved.status().message()));
  }
  if (*resolved != root && !absl::StartsWith(*resolved, root == "/" ? root : root + "/")) {
    return absl::PermissionDeniedError(
        absl::StrCat("checkpoint path ", path, " resolves outside the model root"));
  }
  if (!IsDirectory(*resolved)) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint path ", path, " is not a directory"));
  }
  return resolved;
}

}  // namespace prunegate::service
