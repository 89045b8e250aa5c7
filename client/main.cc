// prunegate: the command-line client of a prunegate server (docs/cli.md).
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli.h"

int main(int argc, char** argv) {
  prunegate::client::CommandEnv env;
  env.out = &std::cout;
  env.err = &std::cerr;
  env.err_is_tty = isatty(STDERR_FILENO) != 0;
  env.getenv = [](const char* name) { return std::getenv(name); };
  return prunegate::client::RunCli(std::vector<std::string>(argv + 1, argv + argc), env);
}
