// Streams under concurrency: cancellation frees the work and its stream slot (every streaming
// RPC), a client deadline stops a stream, stream limits (server-wide and per client), 16
// concurrent clients get the single-client results, unloading a model during a stream is safe,
// and SIGTERM drains.
#include <signal.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/service/service_test_util.h"
#include "tests/testing/server_process.h"

namespace prunegate::testing {
namespace {

using ::testing::HasSubstr;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

// A trace long enough (prompt + steps fill tinykb's 512 positions) to still be running while a
// test acts on it.
v1::TraceDecodeRequest Trace(const std::string& candidate, int steps) {
  v1::TraceDecodeRequest request;
  request.set_baseline("tinykb");
  request.set_candidate(candidate);
  *request.mutable_prompt() = IdsInput({1535, 40, 41});
  request.set_max_steps(steps);
  request.set_ignore_eos(true);
  request.add_temperatures(1.0);
  request.add_temperatures(0.5);
  return request;
}
constexpr int kLongTrace = 500;

// An open stream whose first message has arrived.
struct OpenStream {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::TraceEvent>> reader;
  v1::TraceEvent first;
};

OpenStream Open(v1::Prunegate::Stub& stub, const v1::TraceDecodeRequest& request,
                const std::string& token = "") {
  OpenStream stream;
  stream.context = Context(absl::Seconds(60), token);
  stream.reader = stub.TraceDecode(stream.context.get(), request);
  EXPECT_TRUE(stream.reader->Read(&stream.first)) << "no first message";
  return stream;
}

// Polls `fn` (returning bool) every 20 ms for up to `timeout`.
template <typename Fn>
bool Eventually(Fn fn, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (fn()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return fn();
}

// `result` completed with the same messages as `reference`, field for field.
template <typename Msg>
void ExpectSameStream(const StreamResult<Msg>& result, const StreamResult<Msg>& reference) {
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.messages.size(), reference.messages.size());
  for (size_t m = 0; m < result.messages.size(); ++m) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(result.messages[m],
                                                                   reference.messages[m]))
        << "message " << m << ":\n"
        << result.messages[m].DebugString() << "expected:\n"
        << reference.messages[m].DebugString();
  }
}

TEST(ConcurrencyTest, CancellationFreesTheWorkAndStreamLimitsHold) {
  auto server = ServerProcess::Start(TinykbServerArgs(
      {"--max-streams", "2", "--max-streams-per-client", "1", "--max-decode-steps", "600"}));
  ASSERT_TRUE(server.ok()) << server.status();
  const int metrics = (*server)->metrics_port();
  auto stub = PrunegateStub((*server)->address());
  const auto tokens = [&] {
    return ScrapeMetric(metrics, "prunegate_forward_tokens_total", {{"model", "tinykb"}});
  };
  const auto in_flight = [&] { return ScrapeMetric(metrics, "prunegate_inflight_streams"); };

  // Per client (keyed by bearer token here; peer IP otherwise): one stream each.
  OpenStream alice = Open(*stub, Trace("tinykb", kLongTrace), "alice");
  auto second = Stream(*stub, &v1::Prunegate::Stub::TraceDecode, Trace("tinykb", 2), "alice");
  EXPECT_CODE(second.status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(second.status.error_message(), HasSubstr("--max-streams-per-client 1"));
  // Server-wide: two streams.
  OpenStream bob = Open(*stub, Trace("tinykb", kLongTrace), "bob");
  auto third = Stream(*stub, &v1::Prunegate::Stub::TraceDecode, Trace("tinykb", 2), "carol");
  EXPECT_CODE(third.status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.status.error_message(), HasSubstr("--max-streams 2"));
  EXPECT_EQ(in_flight().value_or(-1), 2);

  // Cancel both long traces after their first step: the work stops (no tokens are ever counted
  // for them, which happens only when a trace completes) and the slots come back.
  const absl::StatusOr<double> tokens_before = tokens();
  alice.context->TryCancel();
  bob.context->TryCancel();
  v1::TraceEvent rest;
  while (alice.reader->Read(&rest)) {
  }
  while (bob.reader->Read(&rest)) {
  }
  EXPECT_CODE(alice.reader->Finish(), CANCELLED);
  EXPECT_CODE(bob.reader->Finish(), CANCELLED);
  EXPECT_TRUE(Eventually([&] { return in_flight().value_or(-1) == 0; }, absl::Seconds(5)))
      << "streams still in flight: " << in_flight().value_or(-1);
  EXPECT_EQ(tokens().status().code(), tokens_before.status().code());
  if (tokens_before.ok()) {
    EXPECT_EQ(*tokens(), *tokens_before);
  }
  EXPECT_EQ(ScrapeMetric(metrics, "prunegate_rpc_requests_total",
                         {{"rpc", "TraceDecode"}, {"code", "CANCELLED"}})
                .value_or(-1),
            2);

  // The freed slots serve new streams at once.
  auto after = Stream(*stub, &v1::Prunegate::Stub::TraceDecode, Trace("tinykb", 3), "alice");
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.messages.size(), 4u);
  EXPECT_GT(tokens().value_or(0), tokens_before.value_or(0));
  EXPECT_EQ(*CheckHealth((*server)->address()), HealthStatus::SERVING);
}

// A server-streaming method of the stub.
template <typename Request, typename Msg>
using ReaderMethod = std::unique_ptr<grpc::ClientReader<Msg>> (v1::Prunegate::Stub::*)(
    grpc::ClientContext*, const Request&);

// How a stream that was stopped early ended.
struct Stopped {
  int received = 0;  // messages read, the first included
  grpc::Status status;
};

// Opens `method`, reads its first message (the work is running), cancels the call and reads it
// to the end.
template <typename Request, typename Msg>
Stopped CancelAfterFirstMessage(v1::Prunegate::Stub& stub, ReaderMethod<Request, Msg> method,
                                const Request& request) {
  auto context = Context(absl::Seconds(60));
  auto reader = (stub.*method)(context.get(), request);
  Stopped stopped;
  Msg message;
  if (reader->Read(&message)) {
    ++stopped.received;
    context->TryCancel();
    while (reader->Read(&message)) ++stopped.received;
  }
  stopped.status = reader->Finish();
  return stopped;
}

// Runs `method` to the end on a fresh context; its status.
template <typename Request, typename Msg>
grpc::Status RunToEnd(v1::Prunegate::Stub& stub, ReaderMethod<Request, Msg> method,
                      const Request& request) {
  return Stream(stub, method, request).status;
}

// One server for the streams that are stopped early, admitting a single stream at a time: a slot
// that is not given back shows as RESOURCE_EXHAUSTED on the next stream.
class StoppedStreamTest : public ServerTest<StoppedStreamTest> {
 public:
  static std::vector<std::string> ServerArgs() { return TinykbServerArgs({"--max-streams", "1"}); }

 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    if (!FindModel(*stub_, "drop2")) {
      ASSERT_TRUE(DeriveDrop(*stub_, "tinykb", "drop2", {2}).ok());
    }
  }

  // The series' value; 0 when it is not exported yet (a counter nothing has counted).
  double Metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    return ScrapeMetric(server_->metrics_port(), name, labels).value_or(0);
  }
  double InFlight() {
    return ScrapeMetric(server_->metrics_port(), "prunegate_inflight_streams").value_or(-1);
  }
  double Requests(const std::string& rpc, const std::string& code) {
    return Metric("prunegate_rpc_requests_total", {{"rpc", rpc}, {"code", code}});
  }
  double TinykbTokens() { return Metric("prunegate_forward_tokens_total", {{"model", "tinykb"}}); }
  double GenerationVerdicts() {
    double total = 0;
    for (const char* verdict : {"SAFE", "RISKY", "UNSAFE"}) {
      total += Metric("prunegate_verdicts_total", {{"task", "generation"}, {"verdict", verdict}});
    }
    return total;
  }

  template <typename Request>
  static Request Pair() {
    Request request;
    request.set_baseline("tinykb");
    request.set_candidate("drop2");
    return request;
  }
};

// Every streaming RPC, cancelled after its first message: CANCELLED, far fewer messages than the
// whole stream, the work's completion never recorded, the slot back (in-flight 0, and the next
// stream admitted under --max-streams 1), and the server answers afterwards.
TEST_F(StoppedStreamTest, CancellingMidStreamFreesTheSlotForEveryStreamingRpc) {
  struct Case {
    std::string rpc;
    int whole_stream;                                     // messages of the uncancelled stream
    std::function<Stopped(v1::Prunegate::Stub&)> cancel;  // long call, cancelled
    std::function<grpc::Status(v1::Prunegate::Stub&)> short_call;
    // A counter that moves only when the RPC's work completes (none for ProbeLayers, which
    // counts its forward tokens step by step).
    std::function<double()> completed;
  };
  auto layers = [](int decode_steps) {
    auto request = Pair<v1::ProbeLayersRequest>();
    *request.mutable_prompt() = IdsInput({1535, 40, 41});
    request.set_decode_steps(decode_steps);
    return request;
  };
  auto choices = [](int n) {
    auto request = Pair<v1::ProbeChoicesRequest>();
    for (int i = 0; i < n; ++i) {
      v1::ChoiceItem* item = request.add_items();
      item->set_id(absl::StrCat("item-", i));
      item->set_prompt(
          "Q: Where is the home of Kimpo?\nA. the blue tent\nB. the bakery\nC. the stone "
          "cottage\nD. the hill farm\nAnswer:");
      for (const char* option : {" A", " B", " C", " D"}) item->add_options(option);
      item->set_label(3);
    }
    return request;
  };
  auto embeddings = [](int n) {
    auto request = Pair<v1::ProbeEmbeddingsRequest>();
    for (int i = 0; i < n; ++i) request.add_texts(absl::StrCat("Kimpo lives in house ", i, "."));
    return request;
  };
  auto kl = [](int tokens) {
    auto request = Pair<v1::SummarizeKlRequest>();
    std::vector<int64_t> ids;
    for (int i = 0; i < tokens; ++i) ids.push_back((i * 37 + 11) % 1536);
    *request.mutable_text() = IdsInput(ids);
    request.set_context(8);
    return request;
  };
  auto assess = [](int prompts, int steps) {
    auto request = Pair<v1::AssessRequest>();
    request.set_task(v1::GENERATION);
    request.add_temperatures(0.5);
    request.add_temperatures(1.0);
    request.set_max_steps(steps);
    for (int i = 0; i < prompts; ++i) {
      request.add_prompts(absl::StrCat("Q: How much is ", i, " + ", 2 * i + 5, "? A:"));
    }
    return request;
  };
  using Stub = v1::Prunegate::Stub;
  const std::vector<Case> cases = {
      {"ProbeLayers", 301 * 12,
       [&](Stub& s) { return CancelAfterFirstMessage(s, &Stub::ProbeLayers, layers(300)); },
       [&](Stub& s) { return RunToEnd(s, &Stub::ProbeLayers, layers(0)); }, nullptr},
      {"ProbeChoices", 401,
       [&](Stub& s) { return CancelAfterFirstMessage(s, &Stub::ProbeChoices, choices(400)); },
       [&](Stub& s) { return RunToEnd(s, &Stub::ProbeChoices, choices(1)); },
       [&] { return TinykbTokens(); }},
      {"ProbeEmbeddings", 401,
       [&](Stub& s) { return CancelAfterFirstMessage(s, &Stub::ProbeEmbeddings, embeddings(400)); },
       [&](Stub& s) { return RunToEnd(s, &Stub::ProbeEmbeddings, embeddings(1)); },
       [&] { return TinykbTokens(); }},
      {"SummarizeKl", 4000 / 8 + 1,
       [&](Stub& s) { return CancelAfterFirstMessage(s, &Stub::SummarizeKl, kl(4000)); },
       [&](Stub& s) { return RunToEnd(s, &Stub::SummarizeKl, kl(32)); },
       [&] { return TinykbTokens(); }},
      {"Assess", 2 * 16 + 1,
       [&](Stub& s) { return CancelAfterFirstMessage(s, &Stub::Assess, assess(16, 24)); },
       [&](Stub& s) { return RunToEnd(s, &Stub::Assess, assess(1, 2)); },
       [&] { return GenerationVerdicts(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.rpc);
    const double completed_before = c.completed ? c.completed() : 0;
    const double cancelled_before = Requests(c.rpc, "CANCELLED");
    const Stopped stopped = c.cancel(*stub_);
    EXPECT_CODE(stopped.status, CANCELLED);
    EXPECT_GE(stopped.received, 1);
    EXPECT_LT(stopped.received, c.whole_stream);
    EXPECT_TRUE(Eventually([&] { return InFlight() == 0; }))
        << "streams still in flight: " << InFlight();
    EXPECT_EQ(Requests(c.rpc, "CANCELLED"), cancelled_before + 1);
    if (c.completed) {
      EXPECT_EQ(c.completed(), completed_before) << "the work ran to its end";
    }
    // The slot is back: the one stream this server admits runs to its end.
    const grpc::Status after = c.short_call(*stub_);
    EXPECT_TRUE(after.ok()) << after.error_code() << ": " << after.error_message();
  }
  EXPECT_EQ(CheckHealth(server_->address()).value_or(HealthStatus::UNKNOWN), HealthStatus::SERVING);
}

// A client deadline shorter than the stream: the client gets DEADLINE_EXCEEDED, the server
// records it as such, stops the trace (it never completes) and frees the slot.
TEST_F(StoppedStreamTest, AClientDeadlineStopsAStream) {
  v1::TraceDecodeRequest request = Trace("drop2", kLongTrace);
  request.clear_temperatures();  // 16 temperatures: about 3 s of work on two busy cores
  for (int t = 1; t <= 16; ++t) request.add_temperatures(0.125 * t);
  // The deadline is a quarter of what the whole trace takes on this machine, measured here, so
  // the test means the same on a faster one.
  const absl::Time start = absl::Now();
  const auto full = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, request);
  ASSERT_TRUE(full.status.ok()) << full.status.error_message();
  const absl::Duration deadline = std::max(absl::Milliseconds(20), (absl::Now() - start) / 4);
  ASSERT_TRUE(Eventually([&] { return InFlight() == 0; }));
  const double tokens_before = TinykbTokens();

  auto context = Context(deadline);
  auto reader = stub_->TraceDecode(context.get(), request);
  int received = 0;
  v1::TraceEvent event;
  while (reader->Read(&event)) ++received;
  const grpc::Status status = reader->Finish();
  EXPECT_CODE(status, DEADLINE_EXCEEDED);
  EXPECT_LT(received, kLongTrace + 1);

  EXPECT_TRUE(Eventually([&] { return InFlight() == 0; }))
      << "streams still in flight: " << InFlight();
  EXPECT_TRUE(Eventually([&] { return Requests("TraceDecode", "DEADLINE_EXCEEDED") == 1; }))
      << "TraceDecode DEADLINE_EXCEEDED: " << Requests("TraceDecode", "DEADLINE_EXCEEDED");
  EXPECT_EQ(TinykbTokens(), tokens_before) << "the trace ran to its end";
  const auto after = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, Trace("drop2", 3));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.messages.size(), 4u);
  EXPECT_EQ(CheckHealth(server_->address()).value_or(HealthStatus::UNKNOWN), HealthStatus::SERVING);
}

TEST(ConcurrencyTest, SixteenConcurrentClientsGetTheSingleClientResults) {
  auto server = ServerProcess::Start(TinykbServerArgs());
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = PrunegateStub((*server)->address());
  ASSERT_TRUE(DeriveDrop(*stub, "tinykb", "drop2", {2}).ok());
  v1::TraceDecodeRequest trace = Trace("drop2", 12);
  *trace.mutable_prompt() = TextInput("Q: Where is the home of Kimpo? A:");
  v1::ProbeLayersRequest layers;
  layers.set_baseline("tinykb");
  layers.set_candidate("drop2");
  *layers.mutable_prompt() = TextInput("Once upon a time, there was a little girl who");
  layers.set_decode_steps(2);

  const auto reference_trace = Stream(*stub, &v1::Prunegate::Stub::TraceDecode, trace);
  const auto reference_layers = Stream(*stub, &v1::Prunegate::Stub::ProbeLayers, layers);
  ASSERT_TRUE(reference_trace.status.ok()) << reference_trace.status.error_message();
  ASSERT_TRUE(reference_layers.status.ok()) << reference_layers.status.error_message();
  ASSERT_EQ(reference_trace.messages.size(), 13u);
  ASSERT_EQ(reference_layers.messages.size(), 36u);

  constexpr int kClients = 16;
  absl::Barrier* start = new absl::Barrier(kClients);
  std::vector<StreamResult<v1::TraceEvent>> traces(kClients);
  std::vector<StreamResult<v1::LayerRecord>> records(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto own = PrunegateStub((*server)->address());  // a connection per client
      if (start->Block()) delete start;
      if (i % 2 == 0) {
        traces[i] = Stream(*own, &v1::Prunegate::Stub::TraceDecode, trace);
      } else {
        records[i] = Stream(*own, &v1::Prunegate::Stub::ProbeLayers, layers);
      }
    });
  }
  for (std::thread& client : clients) client.join();

  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE(::testing::Message() << "client " << i);
    if (i % 2 == 0) {
      ExpectSameStream(traces[i], reference_trace);
    } else {
      ExpectSameStream(records[i], reference_layers);
    }
  }
}

TEST(ConcurrencyTest, UnloadingAModelDuringItsStreamIsSafe) {
  auto server = ServerProcess::Start(TinykbServerArgs());
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = PrunegateStub((*server)->address());
  ASSERT_TRUE(DeriveDrop(*stub, "tinykb", "victim", {1}).ok());
  OpenStream stream = Open(*stub, Trace("victim", 40));
  ASSERT_TRUE(UnloadModel(*stub, "victim").ok());
  EXPECT_FALSE(FindModel(*stub, "victim").has_value());
  std::vector<v1::TraceEvent> messages = {stream.first};
  v1::TraceEvent event;
  while (stream.reader->Read(&event)) messages.push_back(event);
  const grpc::Status status = stream.reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(messages.size(), 41u);
  EXPECT_EQ(messages.back().summary().steps(), 40);
  // New requests no longer find it.
  EXPECT_CODE(Stream(*stub, &v1::Prunegate::Stub::TraceDecode, Trace("victim", 2)).status,
              NOT_FOUND);
}

TEST(ConcurrencyTest, SigtermLetsAStreamInFlightFinishThenExitsZero) {
  auto server = ServerProcess::Start(
      TinykbServerArgs({"--drain-seconds", "60", "--max-decode-steps", "600"}));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = PrunegateStub((*server)->address());
  auto health = grpc::health::v1::Health::NewStub(Channel((*server)->address()));
  auto watch_context = Context(absl::Seconds(60));
  grpc::health::v1::HealthCheckRequest watch_request;
  auto watch = health->Watch(watch_context.get(), watch_request);
  HealthStatus status;
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthStatus::SERVING);

  OpenStream stream = Open(*stub, Trace("tinykb", 200));
  ASSERT_EQ(kill((*server)->pid(), SIGTERM), 0);
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthStatus::NOT_SERVING);
  watch_context->TryCancel();

  int received = 1;
  v1::TraceEvent event;
  while (stream.reader->Read(&event)) ++received;
  const grpc::Status finished = stream.reader->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  EXPECT_EQ(received, 201);
  EXPECT_TRUE(event.has_summary());
  EXPECT_EQ((*server)->Terminate(), 0) << (*server)->StderrTail();
}

TEST(ConcurrencyTest, SigtermCancelsStreamsThatOutlastTheDrainTime) {
  auto server = ServerProcess::Start(
      TinykbServerArgs({"--drain-seconds", "0.5", "--max-decode-steps", "600"}));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = PrunegateStub((*server)->address());
  OpenStream stream = Open(*stub, Trace("tinykb", kLongTrace));
  const absl::Time signalled = absl::Now();
  ASSERT_EQ(kill((*server)->pid(), SIGTERM), 0);
  v1::TraceEvent event;
  int received = 1;
  while (stream.reader->Read(&event)) ++received;
  const grpc::Status finished = stream.reader->Finish();
  EXPECT_FALSE(finished.ok());
  EXPECT_THAT(finished.error_code(),
              ::testing::AnyOf(grpc::StatusCode::CANCELLED, grpc::StatusCode::UNAVAILABLE))
      << finished.error_message();
  EXPECT_LT(received, kLongTrace + 1);
  EXPECT_EQ((*server)->Terminate(), 0) << (*server)->StderrTail();
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(15));
}

}  // namespace
}  // namespace prunegate::testing
