// What the gRPC service costs on top of the library, measured in one run on the shipped model
// (models/tinykb) and a drop-MLP candidate of it:
//  - per-message streaming overhead: a TraceDecode stream (one message per decode step plus the
//    summary) and a ProbeLayers stream (one small LayerRecord per layer, sublayer and prompt
//    position) through a real prunegate-server, against probe::TraceDecode and
//    probe::LayerProbe::Feed called directly in this process on the same models, tokens and
//    options;
//  - throughput with --clients concurrent clients, each with its own channel (connection) running
//    one TraceDecode stream, against the same traces run directly by as many threads in this
//    process (and one after another).
// Ratios are service ÷ direct, both measured in this run; the paths alternate within each repeat.
// Wall times are the best repeat; CPU times (user + system from /proc, for the service the server
// and this process, i.e. the client, together) are the mean, and do not depend on what else the
// machine runs. The CPU other processes used during the measurements is reported too.
//
// Fairness: the server is started with --threads equal to this process's --threads, so both
// paths compute with the same libtorch / OpenBLAS thread count (SetComputeThreads). The server
// runs each stream on its own thread; the direct path runs each trace on its own thread too. The
// service figures include everything a client sees: the request, the server's conversion to
// protobuf and token text, gRPC over loopback TCP and parsing in the client (this process). The
// candidate is derived by the server (DeriveModel, drop-mlp by importance score); the direct path
// drops the same layers with prune::DropLayers. Prompts are sent as token ids (tokenized here), so
// both paths feed identical tokens; the tokens of every path are compared as a check.
// Last line: one JSON object.
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_join.h"
#include "bench/bench_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "nlohmann/json.hpp"
#include "prunegate/v1/prunegate.grpc.pb.h"
#include "server/model/device.h"
#include "server/model/model.h"
#include "server/model/tokenizer.h"
#include "server/probe/decode_trace.h"
#include "server/probe/layer_probe.h"
#include "server/prune/drop.h"
#include "tests/testing/server_process.h"

ABSL_FLAG(int, steps, 64, "decode steps of each TraceDecode");
ABSL_FLAG(int, clients, 16, "concurrent clients (and direct threads) of the throughput test");
ABSL_FLAG(int, repeats, 3, "repeats of each measurement (best kept)");
ABSL_FLAG(int, threads, 1,
          "compute threads (libtorch + OpenBLAS) of the direct path and of the server "
          "(passed as its --threads); 1 is the server's default");
ABSL_FLAG(int, probe_tokens, 64, "prompt tokens of the ProbeLayers stream (all positions)");
ABSL_FLAG(int, drop_count, 2, "MLP sublayers the candidate drops (chosen by importance score)");
ABSL_FLAG(std::string, model_root, PRUNEGATE_SOURCE_DIR, "the server's --model-root");
ABSL_FLAG(std::string, model, "models/tinykb", "checkpoint directory, relative to --model_root");

using namespace prunegate;

namespace {

constexpr int kProbeRunsPerRepeat = 5;

constexpr char kPromptText[] =
    "Once upon a time, a small robot lived in a quiet town by the sea. Every morning it walked to "
    "the market, counted the boats and wrote down the names of the people it met. ";

template <typename Fn>
double Time(Fn&& fn) {
  const double t0 = bench::Now();
  fn();
  return bench::Now() - t0;
}

// CPU seconds (user + system, all threads) a process has used so far, from /proc/PID/stat.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');  // the command name may contain spaces
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / sysconf(_SC_CLK_TCK);
}

// CPU seconds all processors have been busy (not idle or waiting for I/O), from /proc/stat.
double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return (user + nice + system + irq + softirq + steal) / sysconf(_SC_CLK_TCK);
}

// Wall time (best of the repeats) and CPU time (mean over the repeats) of one measurement; the
// CPU time counts this process and, for the service, the server process.
struct Measure {
  double wall = 1e30, cpu_total = 0;
  int runs = 0;
  double cpu() const { return runs > 0 ? cpu_total / runs : 0; }
  // `wall_fn` returns the wall time of one run (so thread start-up can be left out).
  template <typename Fn>
  void Add(const std::vector<pid_t>& pids, Fn&& wall_fn) {
    double c0 = 0, c1 = 0;
    for (pid_t p : pids) c0 += CpuSeconds(p);
    wall = std::min(wall, wall_fn());
    for (pid_t p : pids) c1 += CpuSeconds(p);
    cpu_total += c1 - c0;
    ++runs;
  }
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "prunegate-bench-service: " << what << std::endl;
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(what + ": " + value.status().ToString());
  return *std::move(value);
}

// One channel per client: a local subchannel pool gives each its own TCP connection.
std::unique_ptr<v1::Prunegate::Stub> NewStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
    Die("cannot connect to " + address);
  }
  return v1::Prunegate::NewStub(channel);
}

// Reads a whole stream; returns the number of messages. Dies on a non-OK status.
template <typename Msg, typename Req, typename Call>
int64_t ReadStream(Call call, const Req& request, Msg* last) {
  grpc::ClientContext context;
  auto reader = call(&context, request);
  int64_t messages = 0;
  Msg message;
  while (reader->Read(&message)) {
    ++messages;
    *last = std::move(message);
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) Die("stream failed: " + status.error_message());
  return messages;
}

struct TraceRun {
  int64_t messages = 0;
  std::vector<int64_t> tokens_a, tokens_b;
};

TraceRun ServiceTrace(v1::Prunegate::Stub& stub, const v1::TraceDecodeRequest& request) {
  v1::TraceEvent last;
  TraceRun run;
  run.messages = ReadStream([&](grpc::ClientContext* c,
                                const v1::TraceDecodeRequest& r) { return stub.TraceDecode(c, r); },
                            request, &last);
  if (!last.has_summary()) Die("TraceDecode did not end with a summary");
  run.tokens_a.assign(last.summary().tokens_a().begin(), last.summary().tokens_a().end());
  run.tokens_b.assign(last.summary().tokens_b().begin(), last.summary().tokens_b().end());
  return run;
}

// Runs fn(i) for i in [0, n) on n threads released together; returns the wall time from the
// release until the last one finished (thread creation is not timed).
template <typename Fn>
double Concurrently(int n, Fn&& fn) {
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return go; });
      }
      fn(i);
    });
  }
  const double t0 = bench::Now();
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  return bench::Now() - t0;
}

}  // namespace

int main(int argc, char** argv) {
  ReexecWithPassiveOpenMpWait(argv);
  absl::ParseCommandLine(argc, argv);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int steps = absl::GetFlag(FLAGS_steps);
  const int clients = absl::GetFlag(FLAGS_clients);
  const int repeats = std::max(1, absl::GetFlag(FLAGS_repeats));
  const int probe_tokens = absl::GetFlag(FLAGS_probe_tokens);
  const std::string root = absl::GetFlag(FLAGS_model_root);
  const std::string model_dir = absl::GetFlag(FLAGS_model);
  if (threads < 1 || steps < 1 || clients < 1 || probe_tokens < 1) {
    Die("--threads, --steps, --clients and --probe_tokens must be >= 1");
  }
  SetComputeThreads(threads);

  // The server: same thread setting, no stream limits (the throughput test opens --clients
  // streams from one peer).
  auto server =
      OrDie(testing::ServerProcess::Start({"--model-root", root, "--load", "tinykb=" + model_dir,
                                           "--threads", std::to_string(threads), "--max-streams",
                                           "0", "--max-streams-per-client", "0"}),
            "cannot start prunegate-server");
  auto stub = NewStub(server->address());
  std::vector<int> dropped;
  {
    v1::DeriveModelRequest request;
    request.set_baseline("tinykb");
    request.set_name("candidate");
    request.mutable_recipe()->set_kind(v1::DROP_MLP);
    request.mutable_recipe()->set_count(absl::GetFlag(FLAGS_drop_count));
    v1::ModelInfo info;
    grpc::ClientContext context;
    const grpc::Status status = stub->DeriveModel(&context, request, &info);
    if (!status.ok()) Die("DeriveModel: " + status.error_message());
    dropped.assign(info.dropped_layers().begin(), info.dropped_layers().end());
  }

  // The direct path: the same checkpoint and the same dropped layers, in this process.
  const std::string dir = root + "/" + model_dir;
  auto base = OrDie(Model::Load(dir), "cannot load " + dir);
  auto cand = OrDie(prune::DropLayers(*base, prune::DropKind::kMlp, dropped), "DropLayers");
  auto tokenizer = OrDie(LoadTokenizer(dir), "cannot load the tokenizer of " + dir);
  const std::vector<int64_t> trace_prompt =
      OrDie(tokenizer->Encode(kPromptText, /*add_special_tokens=*/true), "Encode");
  std::vector<int64_t> probe_prompt;
  while (static_cast<int>(probe_prompt.size()) < probe_tokens) {
    probe_prompt.insert(probe_prompt.end(), trace_prompt.begin(), trace_prompt.end());
  }
  probe_prompt.resize(probe_tokens);
  const int64_t context = base->config().max_position_embeddings;
  if (static_cast<int64_t>(trace_prompt.size()) + steps > context) {
    Die("prompt + --steps exceed the model's " + std::to_string(context) + " positions");
  }

  // TraceDecode: free decoding, greedy, no EOS stop (exactly --steps steps), statistics at T = 1.
  v1::TraceDecodeRequest trace_request;
  trace_request.set_baseline("tinykb");
  trace_request.set_candidate("candidate");
  for (int64_t id : trace_prompt) trace_request.mutable_prompt()->mutable_ids()->add_ids(id);
  trace_request.set_mode(v1::FREE);
  trace_request.set_max_steps(steps);
  trace_request.add_temperatures(1.0);
  trace_request.set_top_k(10);
  trace_request.set_ignore_eos(true);
  probe::TraceOptions trace_options;
  trace_options.mode = probe::TraceMode::kFree;
  trace_options.max_steps = steps;
  trace_options.temperatures = {1.0};
  trace_options.top_k = 10;
  auto direct_trace = [&] {
    return OrDie(probe::TraceDecode(base, cand, trace_prompt, trace_options), "TraceDecode");
  };

  // ProbeLayers: local, norm+head lens, every prompt position, T = 1.
  v1::ProbeLayersRequest probe_request;
  probe_request.set_baseline("tinykb");
  probe_request.set_candidate("candidate");
  for (int64_t id : probe_prompt) probe_request.mutable_prompt()->mutable_ids()->add_ids(id);
  probe_request.add_temperatures(1.0);
  probe_request.set_lens(v1::NORM_HEAD);
  probe_request.set_mode(v1::LOCAL);
  probe_request.set_all_positions(true);
  probe_request.set_top_k(10);
  probe::LayerProbeOptions probe_options;
  probe_options.temperatures = {1.0};
  probe_options.top_k = 10;
  probe_options.all_positions = true;
  auto direct_probe = [&] {
    auto p = OrDie(probe::LayerProbe::Create(base, cand, probe_options), "LayerProbe::Create");
    return OrDie(p->Feed(probe_prompt), "LayerProbe::Feed").size();
  };
  auto service_probe = [&](v1::Prunegate::Stub& s) {
    v1::LayerRecord last;
    return ReadStream([&](grpc::ClientContext* c,
                          const v1::ProbeLayersRequest& r) { return s.ProbeLayers(c, r); },
                      probe_request, &last);
  };

  // Warm-up (first calls allocate and fault in the weights) and the consistency checks.
  const probe::TraceResult reference = direct_trace();
  const TraceRun service_reference = ServiceTrace(*stub, trace_request);
  bool tokens_match = service_reference.tokens_a == reference.tokens_a &&
                      service_reference.tokens_b == reference.tokens_b;
  const size_t probe_records = direct_probe();
  const int64_t probe_messages = service_probe(*stub);
  if (static_cast<int64_t>(probe_records) != probe_messages) {
    Die("ProbeLayers sent " + std::to_string(probe_messages) + " records, the library made " +
        std::to_string(probe_records));
  }

  // 1. Per-message overhead: the paths alternate, best of --repeats each.
  const std::vector<pid_t> self = {getpid()};
  const std::vector<pid_t> both = {getpid(), server->pid()};
  // Other processes' CPU use over the measurements (the machine's busy time minus ours).
  auto own_cpu = [&] { return CpuSeconds(getpid()) + CpuSeconds(server->pid()); };
  const double busy0 = MachineBusySeconds(), own0 = own_cpu(), start = bench::Now();
  Measure trace_direct, trace_service, probe_direct, probe_service;
  for (int r = 0; r < repeats; ++r) {
    trace_direct.Add(self, [&] { return Time([&] { direct_trace(); }); });
    trace_service.Add(both, [&] { return Time([&] { ServiceTrace(*stub, trace_request); }); });
    for (int k = 0; k < kProbeRunsPerRepeat; ++k) {  // short: more runs, steadier figures
      probe_direct.Add(self, [&] { return Time([&] { direct_probe(); }); });
      probe_service.Add(both, [&] { return Time([&] { service_probe(*stub); }); });
    }
  }
  const int64_t trace_messages = service_reference.messages;  // steps + the summary

  // 2. Throughput: --clients concurrent traces through the server (one channel each) vs the same
  // traces on as many threads here, and one after another here.
  std::vector<std::unique_ptr<v1::Prunegate::Stub>> stubs;
  for (int i = 0; i < clients; ++i) stubs.push_back(NewStub(server->address()));
  std::vector<TraceRun> runs(clients);
  for (int i = 0; i < clients; ++i) runs[i] = ServiceTrace(*stubs[i], trace_request);  // connect
  std::vector<probe::TraceResult> results(clients);
  Measure many_service, many_threads, many_sequential;
  for (int r = 0; r < repeats; ++r) {
    many_threads.Add(
        self, [&] { return Concurrently(clients, [&](int i) { results[i] = direct_trace(); }); });
    many_service.Add(both, [&] {
      return Concurrently(clients,
                          [&](int i) { runs[i] = ServiceTrace(*stubs[i], trace_request); });
    });
    many_sequential.Add(self, [&] {
      return Time([&] {
        for (int i = 0; i < clients; ++i) direct_trace();
      });
    });
  }
  for (int i = 0; i < clients; ++i) {
    tokens_match = tokens_match && runs[i].tokens_a == reference.tokens_a &&
                   runs[i].tokens_b == reference.tokens_b &&
                   results[i].tokens_a == reference.tokens_a &&
                   results[i].tokens_b == reference.tokens_b;
  }
  const double background_cores =
      (MachineBusySeconds() - busy0 - (own_cpu() - own0)) / (bench::Now() - start);
  const double tps_service = clients / many_service.wall;
  const double tps_threads = clients / many_threads.wall;
  const double tps_sequential = clients / many_sequential.wall;
  server->Terminate();

  const long nproc = sysconf(_SC_NPROCESSORS_ONLN);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf(
      "model %s (%d layers), candidate drop-mlp layers %s; %d compute thread(s) in both paths "
      "(torch %d, OpenBLAS %d; server --threads %d); nproc %ld; other processes used %.2f "
      "cores meanwhile (load average %.2f); wall: best of %d runs (ProbeLayers %d), cpu: mean "
      "(service: server + client)\n",
      model_dir.c_str(), base->num_layers(), absl::StrJoin(dropped, ",").c_str(), threads,
      TorchThreads(), BlasThreads(), threads, nproc, background_cores, load[0], repeats,
      repeats * kProbeRunsPerRepeat);
  auto per_message = [&](const char* what, const char* unit, int64_t messages, const Measure& d,
                         const Measure& s) {
    std::printf(
        "%s (%ld messages): direct %.4f s (%.1f us/%s), service %.4f s (%.1f us/message): "
        "%.3fx, overhead %.1f us/message; cpu direct %.3f s, service %.3f s (%.3fx)\n",
        what, static_cast<long>(messages), d.wall, 1e6 * d.wall / messages, unit, s.wall,
        1e6 * s.wall / messages, s.wall / d.wall, 1e6 * (s.wall - d.wall) / messages, d.cpu(),
        s.cpu(), s.cpu() / d.cpu());
  };
  per_message(("TraceDecode " + std::to_string(steps) + " steps").c_str(), "step", trace_messages,
              trace_direct, trace_service);
  per_message(("ProbeLayers " + std::to_string(probe_tokens) + " tokens, all positions").c_str(),
              "record", probe_messages, probe_direct, probe_service);
  std::printf(
      "%d concurrent traces: service %.3f s (%.2f traces/s, cpu %.3f s), direct threads %.3f s "
      "(%.2f traces/s, cpu %.3f s), direct sequential %.3f s (%.2f traces/s, cpu %.3f s): "
      "service throughput = %.3fx direct threads, %.3fx sequential; cpu per trace %.3fx direct "
      "threads\n",
      clients, many_service.wall, tps_service, many_service.cpu(), many_threads.wall, tps_threads,
      many_threads.cpu(), many_sequential.wall, tps_sequential, many_sequential.cpu(),
      tps_service / tps_threads, tps_service / tps_sequential,
      many_service.cpu() / many_threads.cpu());
  std::printf("same tokens on every path: %s\n", tokens_match ? "yes" : "NO");
  auto stream_json = [](int64_t messages, const Measure& d, const Measure& s) {
    return nlohmann::json{{"messages", messages},
                          {"direct_s", d.wall},
                          {"service_s", s.wall},
                          {"direct_s_per_message", d.wall / messages},
                          {"service_s_per_message", s.wall / messages},
                          {"overhead_s_per_message", (s.wall - d.wall) / messages},
                          {"service_over_direct", s.wall / d.wall},
                          {"direct_cpu_s", d.cpu()},
                          {"service_cpu_s", s.cpu()},
                          {"cpu_service_over_direct", s.cpu() / d.cpu()}};
  };
  nlohmann::json trace_json = stream_json(trace_messages, trace_direct, trace_service);
  trace_json["steps"] = steps;
  trace_json["prompt_tokens"] = trace_prompt.size();
  trace_json["direct_s_per_step"] = trace_direct.wall / steps;
  nlohmann::json probe_json = stream_json(probe_messages, probe_direct, probe_service);
  probe_json["prompt_tokens"] = probe_tokens;
  std::cout << nlohmann::json({{"benchmark", "service"},
                               {"model", model_dir},
                               {"dropped_mlp_layers", dropped},
                               {"nproc", nproc},
                               {"background_cores", background_cores},
                               {"load_average", load[0]},
                               {"threads", threads},
                               {"server_threads", threads},
                               {"torch_threads", TorchThreads()},
                               {"blas_threads", BlasThreads()},
                               {"repeats", repeats},
                               {"tokens_match", tokens_match},
                               {"trace", trace_json},
                               {"probe_layers", probe_json},
                               {"throughput",
                                {{"clients", clients},
                                 {"steps", steps},
                                 {"service_s", many_service.wall},
                                 {"direct_threads_s", many_threads.wall},
                                 {"direct_sequential_s", many_sequential.wall},
                                 {"service_traces_per_s", tps_service},
                                 {"direct_threads_traces_per_s", tps_threads},
                                 {"direct_sequential_traces_per_s", tps_sequential},
                                 {"service_over_direct_threads", tps_service / tps_threads},
                                 {"service_over_direct_sequential", tps_service / tps_sequential},
                                 {"service_cpu_s", many_service.cpu()},
                                 {"direct_threads_cpu_s", many_threads.cpu()},
                                 {"direct_sequential_cpu_s", many_sequential.cpu()},
                                 {"cpu_service_over_direct_threads",
                                  many_service.cpu() / many_threads.cpu()}}}})
                   .dump()
            << std::endl;
  return tokens_match ? 0 : 1;
}
