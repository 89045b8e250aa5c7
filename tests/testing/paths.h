// Where test fixtures live. ../shared is a developer/CI convenience that a user's clone lacks:
// tests that need it call SharedDirOrSkip() and skip with a clear message when it is absent.
#ifndef PRUNEGATE_TESTS_TESTING_PATHS_H_
#define PRUNEGATE_TESTS_TESTING_PATHS_H_

#include <optional>
#include <string>

namespace prunegate::testing {

// The repository root (compiled in).
std::string SourceDir();
// $PRUNEGATE_SHARED_DIR if set, else <repo>/../shared, when that directory exists.
std::optional<std::string> SharedDir();
// A fresh empty directory under the system temp dir, removed at process exit.
std::string MakeTempDir(const std::string& prefix);
// The whole file as bytes ("" when it cannot be read).
std::string ReadWholeFile(const std::string& path);
// Exit code of a waitpid() status: the code, or 128 + the signal, or -1.
int ExitCodeOfWaitStatus(int status);

}  // namespace prunegate::testing

// Skips the current test when ../shared is absent; otherwise evaluates to its path.
#define PG_SHARED_DIR_OR_SKIP(var)                                                       \
  std::string var;                                                                       \
  do {                                                                                   \
    auto pg_shared_ = ::prunegate::testing::SharedDir();                                 \
    if (!pg_shared_) {                                                                   \
      GTEST_SKIP() << "../shared (models and goldens for developers and CI) is absent; " \
                      "set PRUNEGATE_SHARED_DIR to run this test";                       \
    }                                                                                    \
    var = *pg_shared_;                                                                   \
  } while (0)

#endif  // PRUNEGATE_TESTS_TESTING_PATHS_H_
