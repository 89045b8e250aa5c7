// Streams under concurrency: cancellation frees the work and its stream slot, stream limits
// (server-wide and per client), 16 concurrent clients get the single-client results, unloading a
// model during a stream is safe, and SIGTERM drains.
#include <signal.h>

#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
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
