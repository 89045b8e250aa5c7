// TOOLCHAIN.md trap 2: prometheus-cpp's pull Exposer cannot start in a process that links
// libtorch (civetweb's 100 KiB thread stacks do not fit libtorch's static TLS). This test runs in
// such a process — libtorch is linked, loaded and used — and scrapes MetricsHttpServer over HTTP.
#include <pthread.h>
#include <torch/torch.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/metrics.h"
#include "server/service/metrics_http.h"
#include "tests/service/metrics_test_util.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::service {
namespace {

using ::prunegate::testing::HttpGet;
using ::prunegate::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ProcMaps() {
  std::ifstream in("/proc/self/maps");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// pthread_create with civetweb's fixed stack size; 0 or the error number.
int CreateThreadWithCivetwebStack() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 102400);
  pthread_t thread;
  int rc = pthread_create(
      &thread, &attr, [](void*) -> void* { return nullptr; }, nullptr);
  pthread_attr_destroy(&attr);
  if (rc == 0) pthread_join(thread, nullptr);
  return rc;
}

TEST(MetricsHttpTorchTest, ServesMetricsInAProcessThatLinksLibtorch) {
  // libtorch is really in this process, not dropped by --as-needed.
  torch::Tensor t = torch::ones({4, 4}).matmul(torch::ones({4, 4}));
  ASSERT_EQ(t.sum().item<float>(), 64.0f);
  ASSERT_THAT(ProcMaps(), HasSubstr("libtorch_cpu.so"));

  // Report whether the trap is live in this build (informational: the point is that our server
  // works either way).
  int civetweb_rc = CreateThreadWithCivetwebStack();
  std::cout << "pthread_create with a 100 KiB stack in this process: "
            << (civetweb_rc == 0 ? "ok" : std::strerror(civetweb_rc)) << "\n";
  ::testing::Test::RecordProperty("civetweb_stack_pthread_create",
                                  civetweb_rc == 0 ? "ok" : std::strerror(civetweb_rc));

  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(registry);
  metrics.SetModels({{"tiny", "cpu", static_cast<int64_t>(t.nbytes()), 0, true}});
  metrics.ForwardTokens("tiny", 16);
  PG_ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start(registry, "127.0.0.1", 0));
  auto response = HttpGet("127.0.0.1", server->port(), "/metrics");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->content_type, StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(response->body, HasSubstr("prunegate_models_resident{device=\"cpu\"} 1"));
  EXPECT_THAT(response->body, HasSubstr("prunegate_forward_tokens_total{model=\"tiny\"} 16"));
  server->Stop();
}

}  // namespace
}  // namespace prunegate::service
