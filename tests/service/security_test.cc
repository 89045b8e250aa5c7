// Bearer tokens (flag and --config token_file): PERMISSION_DENIED without the right one; TLS and
// mTLS with certificates made by the openssl CLI; health and reflection stay open.
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/service_test_util.h"
#include "tests/testing/paths.h"
#include "tests/testing/server_process.h"
#include "tests/testing/tls_certificates.h"

namespace prunegate::testing {
namespace {

using ::testing::Contains;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

constexpr char kToken[] = "s3cret-token";

grpc::Status ListWith(const std::string& address, const std::string& token) {
  auto stub = PrunegateStub(address);
  v1::ListModelsResponse response;
  auto context = Context(absl::Seconds(10), token);
  return stub->ListModels(context.get(), {}, &response);
}

// ListModels with the raw "authorization" metadata `value`.
grpc::Status ListWithAuthorization(const std::string& address, const std::string& value) {
  auto stub = PrunegateStub(address);
  v1::ListModelsResponse response;
  auto context = Context(absl::Seconds(10));
  context->AddMetadata("authorization", value);
  return stub->ListModels(context.get(), {}, &response);
}

v1::TraceDecodeRequest ShortTrace() {
  v1::TraceDecodeRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("tinykb");
  *request.mutable_prompt() = IdsInput({1535, 10, 11});
  request.set_max_steps(2);
  return request;
}

TEST(TokenTest, EveryPrunegateRpcNeedsTheBearerTokenFromTheConfigFile) {
  const std::string dir = MakeTempDir("prunegate-token");
  std::ofstream(dir + "/token") << kToken << "\n";
  std::ofstream(dir + "/config.json")
      << "{\"model_root\": \"" << TestModelRoot() << "\", \"load\": [{\"name\": \"tinykb\", "
      << "\"path\": \"tinykb\"}], \"token_file\": \"" << dir << "/token\", \"max_streams\": 4}";
  auto server = ServerProcess::Start({"--config", dir + "/config.json"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();

  grpc::Status status = ListWith(address, "");
  EXPECT_CODE(status, PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("missing bearer token"));
  status = ListWith(address, "wrong");
  EXPECT_CODE(status, PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "wrong bearer token");
  EXPECT_CODE(ListWith(address, std::string(kToken) + "x"), PERMISSION_DENIED);
  status = ListWithAuthorization(address, std::string("Basic ") + kToken);
  EXPECT_CODE(status, PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("malformed authorization metadata"));
  EXPECT_CODE(ListWithAuthorization(address, "Bearer "), PERMISSION_DENIED);
  EXPECT_TRUE(ListWithAuthorization(address, std::string("bearer  ") + kToken).ok());
  EXPECT_TRUE(ListWith(address, kToken).ok());

  auto stub = PrunegateStub(address);
  EXPECT_CODE(LoadModel(*stub, "other", "other"), PERMISSION_DENIED);
  EXPECT_TRUE(LoadModel(*stub, "other", "other", nullptr, kToken).ok());
  auto trace = Stream(*stub, &v1::Prunegate::Stub::TraceDecode, ShortTrace());
  EXPECT_CODE(trace.status, PERMISSION_DENIED);
  EXPECT_TRUE(trace.messages.empty());
  trace = Stream(*stub, &v1::Prunegate::Stub::TraceDecode, ShortTrace(), "wrong");
  EXPECT_CODE(trace.status, PERMISSION_DENIED);
  trace = Stream(*stub, &v1::Prunegate::Stub::TraceDecode, ShortTrace(), kToken);
  EXPECT_TRUE(trace.status.ok()) << trace.status.error_message();
  EXPECT_EQ(trace.messages.size(), 3u);

  // Health and reflection need no token.
  auto health = CheckHealth(address, "prunegate.v1.Prunegate");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, HealthStatus::SERVING);
  auto services = ReflectedServices(address);
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, Contains("prunegate.v1.Prunegate"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST(TokenTest, TokenFlag) {
  auto server = ServerProcess::Start(TinykbServerArgs({"--token", kToken}));
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_CODE(ListWith((*server)->address(), ""), PERMISSION_DENIED);
  EXPECT_TRUE(ListWith((*server)->address(), kToken).ok());
}

// The certificates of tests/testing/tls_certificates.h: a CA, a server certificate for
// localhost / 127.0.0.1 and a client certificate signed by it, and a second CA with its own
// client certificate that the server must not accept.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::string> dir = TestCertificates();
    dir_ = new std::string(dir.ok() ? *dir : "");
    error_ = new std::string(dir.status().ToString());
  }

  void SetUp() override { ASSERT_FALSE(dir_->empty()) << *error_; }

  static std::string File(const std::string& name) { return *dir_ + "/" + name; }

  // ListModels over TLS trusting `ca`, presenting `client` ("" = no client certificate).
  static grpc::Status ListOverTls(const std::string& address, const std::string& ca,
                                  const std::string& client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadWholeFile(File(ca + ".crt"));
    if (!client.empty()) {
      options.pem_private_key = ReadWholeFile(File(client + ".key"));
      options.pem_cert_chain = ReadWholeFile(File(client + ".crt"));
    }
    auto stub = v1::Prunegate::NewStub(
        Channel(address, grpc::SslCredentials(options), /*ssl_target=*/"localhost"));
    v1::ListModelsResponse response;
    auto context = Context(absl::Seconds(10));
    return stub->ListModels(context.get(), {}, &response);
  }

  static grpc::Status ListInsecure(const std::string& address) { return ListWith(address, ""); }

  static inline std::string* dir_ = nullptr;
  static inline std::string* error_ = nullptr;
};

TEST_F(TlsTest, ServerCertificateOnly) {
  auto server = ServerProcess::Start(
      TinykbServerArgs({"--tls-cert", File("server.crt"), "--tls-key", File("server.key")}));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  grpc::Status status = ListOverTls(address, "ca", "");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(ListOverTls(address, "ca", "client").ok());  // a client certificate is not needed
  EXPECT_CODE(ListOverTls(address, "rogue-ca", ""), UNAVAILABLE);  // untrusted server
  EXPECT_CODE(ListInsecure(address), UNAVAILABLE);                 // plaintext to a TLS port
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  auto server = ServerProcess::Start(
      TinykbServerArgs({"--tls-cert", File("server.crt"), "--tls-key", File("server.key"),
                        "--tls-client-ca", File("ca.crt")}));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  grpc::Status status = ListOverTls(address, "ca", "client");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_CODE(ListOverTls(address, "ca", ""), UNAVAILABLE);              // no client certificate
  EXPECT_CODE(ListOverTls(address, "ca", "rogue-client"), UNAVAILABLE);  // signed by another CA
  EXPECT_CODE(ListInsecure(address), UNAVAILABLE);
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST(ServerFlagsTest, BadStartsExitWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;  // expected in the server's stderr
  };
  const std::string root = TestModelRoot();
  const std::vector<Case> cases = {
      {{"--model-root", "/nonexistent-root"}, "model root /nonexistent-root"},
      {{"--model-root", root, "--no-such-flag", "1"}, "unknown flag --no-such-flag"},
      {{"--model-root", root, "--grpc-port", "x"}, "--grpc-port: expected an integer"},
      {{"--model-root", root, "--load", "x=no-such-dir"}, "--load x=no-such-dir"},
      {{"--model-root", root, "--tls-cert", "x.pem"}, "--tls-cert and --tls-key go together"},
  };
  for (const Case& c : cases) {
    auto server = ServerProcess::Start(c.args, absl::Seconds(30));
    ASSERT_FALSE(server.ok()) << "started with " << ::testing::PrintToString(c.args);
    EXPECT_THAT(std::string(server.status().message()), ::testing::HasSubstr("exited with code"));
    EXPECT_THAT(std::string(server.status().message()), ::testing::HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace prunegate::testing
