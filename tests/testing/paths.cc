#include "tests/testing/paths.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <vector>

namespace prunegate::testing {
namespace fs = std::filesystem;

std::string SourceDir() { return PRUNEGATE_SOURCE_DIR; }

std::optional<std::string> SharedDir() {
  if (const char* env = std::getenv("PRUNEGATE_SHARED_DIR"); env && *env) {
    if (fs::is_directory(env)) return std::string(env);
    return std::nullopt;
  }
  fs::path p = fs::path(PRUNEGATE_SOURCE_DIR).parent_path() / "shared";
  if (fs::is_directory(p / "models")) return p.string();
  return std::nullopt;
}

namespace {
std::mutex g_mu;
std::vector<std::string>* g_dirs = nullptr;
void RemoveAll() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_dirs) return;
  for (const auto& d : *g_dirs) {
    std::error_code ec;
    fs::remove_all(d, ec);
  }
}
}  // namespace

std::string MakeTempDir(const std::string& prefix) {
  std::random_device rd;
  fs::path base = fs::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = base / (prefix + "-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      std::lock_guard<std::mutex> lock(g_mu);
      if (!g_dirs) {
        g_dirs = new std::vector<std::string>();
        std::atexit(RemoveAll);
      }
      g_dirs->push_back(p.string());
      return p.string();
    }
  }
  return (base / prefix).string();
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int ExitCodeOfWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace prunegate::testing
