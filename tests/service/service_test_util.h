// Helpers for the prunegate-server integration tests: a model root holding a copy of the shipped
// tinykb model and a fixture with another vocabulary, gRPC stubs and contexts, reading a whole
// server stream, and the standard health check. Torch-free.
#ifndef PRUNEGATE_TESTS_SERVICE_SERVICE_TEST_UTIL_H_
#define PRUNEGATE_TESTS_SERVICE_SERVICE_TEST_UTIL_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "prunegate/v1/prunegate.grpc.pb.h"
#include "tests/testing/server_process.h"

namespace prunegate::testing {

// A temporary model root (removed at exit) with
//   tinykb/   a copy of the repository's models/tinykb (weights, tokenizer, tasks/)
//   other/    a tiny random Llama fixture with a 64-token vocabulary and no tokenizer
//   escape -> /   a symlink that leaves the root
// Copied once per test binary, so a training run that rewrites models/tinykb cannot change the
// files under a running test.
const std::string& TestModelRoot();

// --model-root <TestModelRoot()> --load tinykb=tinykb, then `extra`.
std::vector<std::string> TinykbServerArgs(const std::vector<std::string>& extra = {});

// `ssl_target`: the server name TLS verifies instead of the address's host ("" = the host).
std::shared_ptr<grpc::Channel> Channel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials(),
    const std::string& ssl_target = "");
std::unique_ptr<v1::Prunegate::Stub> PrunegateStub(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials());

// A context with a deadline and, when `token` is set, "authorization: Bearer <token>".
std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline = absl::Seconds(60),
                                             const std::string& token = "");

template <typename Msg>
struct StreamResult {
  std::vector<Msg> messages;
  grpc::Status status;
};

// Reads every message of a server stream, then its status.
template <typename Msg>
StreamResult<Msg> ReadAll(grpc::ClientReader<Msg>* reader) {
  StreamResult<Msg> result;
  Msg message;
  while (reader->Read(&message)) result.messages.push_back(message);
  result.status = reader->Finish();
  return result;
}

// Runs a server-streaming call on a fresh context (60 s deadline, optional bearer token) and
// reads it to the end: Stream(*stub, &v1::Prunegate::Stub::TraceDecode, request).
template <typename Request, typename Msg>
StreamResult<Msg> Stream(v1::Prunegate::Stub& stub,
                         std::unique_ptr<grpc::ClientReader<Msg>> (v1::Prunegate::Stub::*method)(
                             grpc::ClientContext*, const Request&),
                         const Request& request, const std::string& token = "") {
  auto context = Context(absl::Seconds(60), token);
  auto reader = (stub.*method)(context.get(), request);
  return ReadAll(reader.get());
}

// grpc.health.v1.Health/Check for `service` ("" = the whole server): the status, or the RPC's
// error.
absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(
    const std::string& address, const std::string& service = "");

// The services server reflection lists.
absl::StatusOr<std::vector<std::string>> ReflectedServices(const std::string& address);

// The value of one series scraped from the server's /metrics: `name` with exactly these labels
// (e.g. {{"rpc", "TraceDecode"}, {"code", "CANCELLED"}}); NOT_FOUND when it is not exposed.
absl::StatusOr<double> ScrapeMetric(int metrics_port, const std::string& name,
                                    const std::map<std::string, std::string>& labels = {});

// A prompt input as text or ids.
v1::Input TextInput(const std::string& text);
v1::Input IdsInput(const std::vector<int64_t>& ids);

// Loads `path` as `name` with wait = true; the RPC status.
grpc::Status LoadModel(v1::Prunegate::Stub& stub, const std::string& name, const std::string& path,
                       v1::ModelInfo* info = nullptr, const std::string& token = "");
std::vector<v1::ModelInfo> ListModels(v1::Prunegate::Stub& stub);
std::optional<v1::ModelInfo> FindModel(v1::Prunegate::Stub& stub, const std::string& name);
grpc::Status UnloadModel(v1::Prunegate::Stub& stub, const std::string& name);

// Derives `name` from `baseline` by dropping the MLP (or `kind`) of `layers`.
grpc::Status DeriveDrop(v1::Prunegate::Stub& stub, const std::string& baseline,
                        const std::string& name, const std::vector<int>& layers,
                        v1::DropKind kind = v1::DROP_MLP, v1::ModelInfo* info = nullptr);

// A fixture whose test suite shares one server, started with Derived::ServerArgs() (run through
// ServerProcess, so --grpc-port 0 --metrics-port 0 --ready-file are added).
template <typename Derived>
class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ServerProcess::Start(Derived::ServerArgs());
    if (server.ok()) {
      server_ = server->release();
    } else {
      start_error_ = server.status().ToString();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << start_error_;
    stub_ = PrunegateStub(server_->address());
  }

  static inline ServerProcess* server_ = nullptr;
  static inline std::string start_error_;
  std::unique_ptr<v1::Prunegate::Stub> stub_;
};

}  // namespace prunegate::testing

// EXPECT_CODE(grpc_status, NOT_FOUND): the code, with the message on failure.
#define EXPECT_CODE(status, code)                            \
  EXPECT_EQ((status).error_code(), ::grpc::StatusCode::code) \
      << "got code " << (status).error_code() << ": " << (status).error_message()

#endif  // PRUNEGATE_TESTS_SERVICE_SERVICE_TEST_UTIL_H_
