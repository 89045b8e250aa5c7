// prunegate-server's settings: command-line flags and the --config JSON file. Torch-free.
//
// Flags (also accepted as --flag=value; dashes or underscores):
//   --model-root DIR           checkpoints are loaded from inside DIR only (required)
//   --load NAME=DIR            load a checkpoint at start-up (repeatable; DIR relative to the root)
//   --config FILE              JSON: {"model_root":..,"load":[{"name","path","device","dtype"}],
//                              and any flag below by its name with underscores}; flags win, and
//                              --load adds to the file's list
//   --host HOST                listen address (default 127.0.0.1)
//   --grpc-port N              gRPC port (default 50051; 0 = any free port)
//   --metrics-port N           Prometheus /metrics port (default 9464; 0 = any free; -1 = off)
//   --ready-file F             written as {"grpc_port":N,"metrics_port":M} once SERVING
//   --device D                 default device of loads (cpu | cuda[:N])
//   --threads N                compute threads of each request (libtorch and OpenBLAS); default
//                              1: concurrent requests share the cores (raise it for a server
//                              that runs one large request at a time)
//   --memory-budget-bytes N    per-device budget for resident models; 0 = unlimited
//   --max-prompt-tokens N, --max-decode-steps N, --max-temperatures N, --max-items N
//   --max-streams N            concurrent streams, server-wide (0 = unlimited)
//   --max-streams-per-client N concurrent streams per bearer token or peer IP (0 = unlimited)
//   --max-request-bytes N      largest request message accepted
//   --tls-cert F --tls-key F   serve TLS; --tls-client-ca F: require client certificates (mTLS)
//   --token T | --token-file F require "authorization: Bearer T" on every Prunegate RPC
//   --drain-seconds S          on SIGTERM/SIGINT, how long in-flight calls may take to finish
//   --load-threads N           model load workers (default 2)
#ifndef PRUNEGATE_SERVER_SERVICE_SERVER_OPTIONS_H_
#define PRUNEGATE_SERVER_SERVICE_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/service/limits.h"

namespace prunegate::service {

struct StartupLoad {
  std::string name;
  std::string path;
  std::string device;  // "" = --device
  std::string dtype;   // "" = float32
};

struct ServerOptions {
  std::string model_root;
  std::vector<StartupLoad> loads;
  std::string host = "127.0.0.1";
  int grpc_port = 50051;
  int metrics_port = 9464;
  std::string ready_file;
  std::string device = "cpu";
  int threads = 0;  // 0 = 1 thread per request
  int64_t memory_budget_bytes = 0;
  RequestLimits limits;
  int max_streams = 64;
  int max_streams_per_client = 16;
  int64_t max_request_bytes = 4 << 20;
  std::string tls_cert, tls_key, tls_client_ca;
  std::string token;  // from --token or --token-file
  double drain_seconds = 10;
  int load_threads = 2;
  bool help = false;  // --help: print ServerUsage() and exit
};

// Parses argv[1..]: --config first (wherever it appears), then the flags in order.
// INVALID_ARGUMENT naming the flag (or the config key) for an unknown flag, a missing or
// malformed value, or an inconsistent combination (e.g. --tls-cert without --tls-key).
absl::StatusOr<ServerOptions> ParseServerFlags(int argc, char** argv);

std::string ServerUsage();

}  // namespace prunegate::service

#endif  // PRUNEGATE_SERVER_SERVICE_SERVER_OPTIONS_H_
