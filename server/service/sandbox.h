// Input hygiene for the registry: model names and checkpoint paths confined to the model root.
// Torch-free.
#ifndef PRUNEGATE_SERVER_SERVICE_SANDBOX_H_
#define PRUNEGATE_SERVER_SERVICE_SANDBOX_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace prunegate::service {

// OK for [A-Za-z0-9._-]{1,64}; INVALID_ARGUMENT naming the rule otherwise.
absl::Status ValidateModelName(const std::string& name);

// The model root, resolved once: realpath of `root`. INVALID_ARGUMENT when it is empty, does not
// exist or is not a directory.
absl::StatusOr<std::string> ResolveModelRoot(const std::string& root);

// Resolves `path` (relative to `root`, or absolute) with realpath, symlinks included, and checks
// that the result is `root` itself or inside it. `root` must come from ResolveModelRoot.
// INVALID_ARGUMENT for an empty path, PERMISSION_DENIED when the resolved path escapes the root
// (the message never reveals what lies outside), NOT_FOUND when it does not exist,
// INVALID_ARGUMENT when it is not a directory.
absl::StatusOr<std::string> ResolveInsideRoot(const std::string& root, const std::string& path);

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_SANDBOX_H_
