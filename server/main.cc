// prunegate-server: keeps a baseline LLM and the candidates derived from it resident and serves
// prunegate.v1.Prunegate over gRPC (see server/service/server_options.h for the flags).
//
// SIGTERM / SIGINT: health turns NOT_SERVING, in-flight calls get --drain-seconds to finish (then
// they are cancelled), and the process exits 0. Exit 1 when the server cannot start or a start-up
// load fails; 2 for bad flags.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "absl/time/time.h"
#include "server/model/device.h"
#include "server/service/server.h"
#include "server/service/server_options.h"

namespace {

// SIGTERM / SIGINT write their number here; main() waits on the read end. Repeated signals while
// draining only write again, so a second SIGTERM does not cut the drain short.
int g_signal_pipe[2] = {-1, -1};

extern "C" void OnShutdownSignal(int signal_number) {
  const char byte = static_cast<char>(signal_number);
  const int saved_errno = errno;
  if (write(g_signal_pipe[1], &byte, 1) < 0) {
    // The pipe is full: a shutdown is already pending.
  }
  errno = saved_errno;
}

bool InstallShutdownHandlers() {
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  // The read end blocks; only the handler's writes must never block.
  fcntl(g_signal_pipe[0], F_SETFL, fcntl(g_signal_pipe[0], F_GETFL) & ~O_NONBLOCK);
  struct sigaction action = {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  return sigaction(SIGTERM, &action, nullptr) == 0 && sigaction(SIGINT, &action, nullptr) == 0;
}

// Blocks until SIGTERM or SIGINT; returns its number.
int WaitForShutdownSignal() {
  char byte = 0;
  while (read(g_signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  return byte;
}

int Fail(int code, const std::string& message) {
  std::cerr << "prunegate-server: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  prunegate::ReexecWithPassiveOpenMpWait(argv);
  if (!InstallShutdownHandlers()) return Fail(1, "cannot install the SIGTERM/SIGINT handlers");

  auto options = prunegate::service::ParseServerFlags(argc, argv);
  if (!options.ok()) {
    return Fail(2, std::string(options.status().message()) + " (see --help)");
  }
  if (options->help) {
    std::cout << prunegate::service::ServerUsage();
    return 0;
  }
  // Requests run concurrently, each on its own thread; by default each computes on that thread
  // alone. OpenBLAS's shared thread pool serves concurrent callers badly (measured: 16 concurrent
  // streams on 2 cores took 20-50 s with its default threads, 2 s with one).
  prunegate::SetComputeThreads(options->threads > 0 ? options->threads : 1);

  auto server = prunegate::service::PrunegateServer::Start(*options);
  if (!server.ok()) return Fail(1, server.status().ToString());
  // The port is bound and health says NOT_SERVING until the loads below finish. Keep this line's
  // shape: tests read the ports from it (ServerProcess::StartListening) to watch that phase.
  std::cerr << "prunegate-server: gRPC on " << options->host << ":" << (*server)->grpc_port()
            << ", metrics on " << (*server)->metrics_port() << " (NOT_SERVING until the "
            << options->loads.size() << " start-up model(s) are loaded)\n";
  if (absl::Status loaded = (*server)->LoadStartupModels(); !loaded.ok()) {
    (*server)->Shutdown(absl::ZeroDuration());
    return Fail(1, loaded.ToString());
  }
  std::cerr << "prunegate-server: SERVING\n";

  const int signal_number = WaitForShutdownSignal();
  std::cerr << "prunegate-server: signal " << signal_number << ", draining for up to "
            << options->drain_seconds << " s\n";
  (*server)->Shutdown(absl::Seconds(options->drain_seconds));
  std::cerr << "prunegate-server: stopped\n";
  return 0;
}
