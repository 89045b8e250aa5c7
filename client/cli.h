// The prunegate command line: global flags, then a command (`models list`, `gate`, ...) and its
// flags. RunCli is main() without the process: tests call it with their own streams.
#ifndef PRUNEGATE_CLIENT_CLI_H_
#define PRUNEGATE_CLIENT_CLI_H_

#include <string>
#include <vector>

#include "client/command.h"

namespace prunegate::client {

// `args` excludes the program name. `env.connection` is ignored (the global flags fill it).
// Returns the process exit code.
int RunCli(const std::vector<std::string>& args, CommandEnv env);

// The top-level usage: commands, global flags, exit codes.
std::string MainUsage();

}  // namespace prunegate::client

#endif  // PRUNEGATE_CLIENT_CLI_H_
