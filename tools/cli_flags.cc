#include "tools/cli_flags.h"

#include <algorithm>
#include <string>

namespace prunegate::cli {

std::vector<char*> DashesToUnderscores(int argc, char** argv) {
  static std::vector<std::string>* storage = new std::vector<std::string>(argv, argv + argc);
  std::vector<char*> out;
  for (std::string& a : *storage) {
    if (a.rfind("--", 0) == 0) {
      const size_t end = std::min(a.find('='), a.size());
      for (size_t i = 2; i < end; ++i) {
        if (a[i] == '-') a[i] = '_';
      }
    }
    out.push_back(a.data());
  }
  return out;
}

}  // namespace prunegate::cli
