// End to end: the real prunegate-server with models/tinykb resident, scraped by a real Prometheus
// server (Debian package prometheus) every second with deploy/prometheus/rules.yml loaded. Passes
// when Prometheus's query API returns prunegate_models_resident >= 1 and every alerting rule has
// evaluated without error on the scraped data.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/service/metrics_test_util.h"
#include "tests/testing/paths.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::service {
namespace {

using ::prunegate::testing::ChildProcess;
using ::prunegate::testing::FindExecutable;
using ::prunegate::testing::HttpGet;
using ::prunegate::testing::IsOk;
using ::prunegate::testing::ServerProcess;
using ::testing::HasSubstr;

constexpr auto kQueryTimeout = std::chrono::seconds(40);

// A loopback port that was free a moment ago (the kernel's choice for port 0).
int FreeLoopbackPort() {
  int sock = socket(AF_INET, SOCK_STREAM, 0);
  if (sock < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(sock);
  return port;
}

// GET /api/v1/<endpoint> with `params`; the "data" member of a successful answer.
std::optional<nlohmann::json> PrometheusApi(int port, const std::string& endpoint,
                                            const httplib::Params& params, std::string* error) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  httplib::Result result = client.Get("/api/v1/" + endpoint, params, httplib::Headers());
  if (!result) {
    *error = httplib::to_string(result.error());
    return std::nullopt;
  }
  nlohmann::json body = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (result->status != 200 || body.is_discarded() || body.value("status", "") != "success") {
    *error = absl::StrCat("HTTP ", result->status, ": ", result->body);
    return std::nullopt;
  }
  return body["data"];
}

// The largest value of an instant-vector query result; nullopt when the result is empty.
std::optional<double> MaxSample(const nlohmann::json& data) {
  std::optional<double> best;
  for (const nlohmann::json& series : data.value("result", nlohmann::json::array())) {
    // "value": [<unix time>, "<value as a string>"]
    double value = std::stod(series["value"][1].get<std::string>());
    if (!best || value > *best) best = value;
  }
  return best;
}

TEST(PrometheusScrapeTest, RealPrometheusScrapesTheRealServer) {
  std::optional<std::string> prometheus = FindExecutable("prometheus");
  if (!prometheus) {
    GTEST_SKIP() << "the prometheus server is not installed (Debian package prometheus); "
                    "this end-to-end scrape needs it";
  }
  const std::string root = ::prunegate::testing::SourceDir();
  if (!std::filesystem::exists(root + "/models/tinykb/config.json")) {
    GTEST_SKIP() << root << "/models/tinykb is absent (trained by scripts/train-model.sh)";
  }

  PG_ASSERT_OK_AND_ASSIGN(
      auto server, ServerProcess::Start({"--model-root", root, "--load", "tinykb=models/tinykb"}));
  ASSERT_GT(server->metrics_port(), 0);
  // The server's own endpoint answers before Prometheus is involved.
  auto direct = HttpGet("127.0.0.1", server->metrics_port(), "/metrics");
  ASSERT_THAT(direct, IsOk());
  ASSERT_EQ(direct->status, 200);
  EXPECT_THAT(direct->body, HasSubstr("prunegate_models_resident{device=\"cpu\"} 1"));

  const std::string dir = ::prunegate::testing::MakeTempDir("prunegate-prometheus");
  const std::string config = dir + "/prometheus.yml";
  std::ofstream(config) << "global:\n"
                        << "  scrape_interval: 1s\n"
                        << "  evaluation_interval: 1s\n"
                        << "rule_files:\n"
                        << "  - " << root << "/deploy/prometheus/rules.yml\n"
                        << "scrape_configs:\n"
                        << "  - job_name: prunegate\n"
                        << "    static_configs:\n"
                        << "      - targets: ['127.0.0.1:" << server->metrics_port() << "']\n";
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  auto child = ChildProcess::Spawn(
      {*prometheus, "--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
       absl::StrCat("--web.listen-address=127.0.0.1:", port), "--log.level=warn"},
      dir + "/prometheus.log");
  ASSERT_THAT(child, IsOk());

  // Poll until Prometheus has scraped a READY model and evaluated every rule.
  const auto deadline = std::chrono::steady_clock::now() + kQueryTimeout;
  std::optional<double> resident;
  std::string last_error = "no answer yet";
  bool rules_evaluated = false;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(child->Running()) << "prometheus exited:\n" << child->LogTail();
    ASSERT_TRUE(server->Running()) << "prunegate-server exited:\n" << server->StderrTail();
    if (!resident || *resident < 1) {
      auto data =
          PrometheusApi(port, "query", {{"query", "prunegate_models_resident"}}, &last_error);
      if (data) {
        resident = MaxSample(*data);
        last_error = resident ? absl::StrCat("value ", *resident) : "no samples yet";
      }
    }
    if (resident && *resident >= 1 && !rules_evaluated) {
      auto data = PrometheusApi(port, "rules", {{"type", "alert"}}, &last_error);
      if (data) {
        int evaluated = 0, total = 0;
        for (const nlohmann::json& group : data->value("groups", nlohmann::json::array())) {
          for (const nlohmann::json& rule : group.value("rules", nlohmann::json::array())) {
            EXPECT_NE(rule.value("health", ""), "err")
                << rule.value("name", "?") << ": " << rule.value("lastError", "");
            ++total;
            if (rule.value("health", "") == "ok") ++evaluated;
          }
        }
        rules_evaluated = total > 0 && evaluated == total;
        last_error = absl::StrCat(evaluated, " of ", total, " alerting rules evaluated");
      }
    }
    if (rules_evaluated) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_TRUE(resident.has_value() && *resident >= 1)
      << "Prometheus did not return prunegate_models_resident >= 1 within 40 s (last: "
      << last_error << ")\n--- prometheus log ---\n"
      << child->LogTail();
  EXPECT_TRUE(rules_evaluated) << last_error;

  // The scrape target is healthy and the model's bytes arrived with it.
  std::string error;
  auto up = PrometheusApi(port, "query", {{"query", "up{job=\"prunegate\"}"}}, &error);
  ASSERT_TRUE(up.has_value()) << error;
  EXPECT_EQ(MaxSample(*up), 1.0);
  auto bytes = PrometheusApi(
      port, "query", {{"query", "prunegate_model_bytes_resident{model=\"tinykb\",device=\"cpu\"}"}},
      &error);
  ASSERT_TRUE(bytes.has_value()) << error;
  EXPECT_GT(MaxSample(*bytes).value_or(0), 0);

  EXPECT_EQ(child->Terminate(), 0) << child->LogTail();
  EXPECT_EQ(server->Terminate(), 0) << server->StderrTail();
}

}  // namespace
}  // namespace prunegate::service
