// Command-line conveniences shared by the tools.
#ifndef PRUNEGATE_TOOLS_CLI_FLAGS_H_
#define PRUNEGATE_TOOLS_CLI_FLAGS_H_

#include <vector>

namespace prunegate::cli {

// absl flags are spelled with underscores; users type dashes (--max-new-tokens). Returns argv
// with the dashes inside "--flag-name" (before any '=') turned into underscores. The strings
// live until the process exits.
std::vector<char*> DashesToUnderscores(int argc, char** argv);

}  // namespace prunegate::cli

#endif  // PRUNEGATE_TOOLS_CLI_FLAGS_H_
