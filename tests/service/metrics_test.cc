#include "server/service/metrics.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "prometheus/summary.h"
#include "prometheus/text_serializer.h"
#include "server/service/metrics_http.h"
#include "tests/service/metrics_test_util.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::service {
namespace {

using ::prunegate::testing::FindExecutable;
using ::prunegate::testing::FindSeries;
using ::prunegate::testing::HttpGet;
using ::prunegate::testing::IsOk;
using ::prunegate::testing::RunCommand;
using ::prunegate::testing::SeriesCount;
using ::prunegate::testing::SeriesValue;
using ::prunegate::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;

class MetricsTest : public ::testing::Test {
 protected:
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  Metrics metrics_{registry_};

  std::optional<double> Value(const std::string& name, const prometheus::Labels& labels = {}) {
    return SeriesValue(*registry_, name, labels);
  }
  std::string Text() { return prometheus::TextSerializer().Serialize(registry_->Collect()); }
};

// prometheus-cpp leaves families without series out of Collect(), so registration is checked by
// the registry refusing a family of another type under each name.
TEST_F(MetricsTest, RegistersEveryFamilyInTheConstructor) {
  const std::vector<std::string> names = {
      "prunegate_rpc_requests_total",
      "prunegate_rpc_latency_seconds",
      "prunegate_streamed_messages_total",
      "prunegate_inflight_requests",
      "prunegate_inflight_streams",
      "prunegate_models_resident",
      "prunegate_model_bytes_resident",
      "prunegate_model_bytes_shared",
      "prunegate_device_bytes_resident",
      "prunegate_forward_tokens_total",
      "prunegate_verdicts_total",
      "prunegate_last_kl",
      "prunegate_build_info",
  };
  for (const std::string& name : names) {
    EXPECT_THROW(prometheus::BuildSummary().Name(name).Help("x").Register(*registry_),
                 std::invalid_argument)
        << name << " is not registered";
  }
  EXPECT_NO_THROW(
      prometheus::BuildSummary().Name("prunegate_not_registered").Help("x").Register(*registry_));

  // With one series in each, every family is exported with its type and HELP text.
  metrics_.RpcStarted("Assess");
  metrics_.MessageStreamed("Assess");
  metrics_.RpcFinished("Assess", 0, 1);
  metrics_.SetModels({{"base", "cpu", 1, 0, true}});
  metrics_.ForwardTokens("base", 1);
  metrics_.VerdictGiven("generation", "SAFE");
  metrics_.LastKl("base", "base", 0);
  const std::vector<std::pair<std::string, prometheus::MetricType>> types = {
      {"prunegate_rpc_requests_total", prometheus::MetricType::Counter},
      {"prunegate_rpc_latency_seconds", prometheus::MetricType::Histogram},
      {"prunegate_streamed_messages_total", prometheus::MetricType::Counter},
      {"prunegate_inflight_requests", prometheus::MetricType::Gauge},
      {"prunegate_inflight_streams", prometheus::MetricType::Gauge},
      {"prunegate_models_resident", prometheus::MetricType::Gauge},
      {"prunegate_model_bytes_resident", prometheus::MetricType::Gauge},
      {"prunegate_model_bytes_shared", prometheus::MetricType::Gauge},
      {"prunegate_device_bytes_resident", prometheus::MetricType::Gauge},
      {"prunegate_forward_tokens_total", prometheus::MetricType::Counter},
      {"prunegate_verdicts_total", prometheus::MetricType::Counter},
      {"prunegate_last_kl", prometheus::MetricType::Gauge},
      {"prunegate_build_info", prometheus::MetricType::Gauge},
  };
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  EXPECT_EQ(families.size(), types.size());
  for (const auto& [name, type] : types) {
    auto it = std::find_if(families.begin(), families.end(),
                           [&](const prometheus::MetricFamily& f) { return f.name == name; });
    ASSERT_NE(it, families.end()) << name;
    EXPECT_EQ(it->type, type) << name;
    EXPECT_FALSE(it->help.empty()) << name;
  }
  EXPECT_THAT(Value("prunegate_build_info", {{"version", MetricsOptions::DefaultVersion()}}),
              Optional(1.0));
  EXPECT_FALSE(MetricsOptions::DefaultVersion().empty());
  EXPECT_EQ(metrics_.registry(), registry_);
}

TEST_F(MetricsTest, InflightStreamsIsExportedBeforeAnyRpc) {
  EXPECT_THAT(Value("prunegate_inflight_streams"), Optional(0.0));
}

TEST_F(MetricsTest, OptionsSetVersionAndStreamingRpcs) {
  auto registry = std::make_shared<prometheus::Registry>();
  MetricsOptions options;
  options.version = "1.2.3";
  options.streaming_rpcs = {"Watch"};
  Metrics metrics(registry, options);
  EXPECT_THAT(SeriesValue(*registry, "prunegate_build_info", {{"version", "1.2.3"}}),
              Optional(1.0));
  metrics.RpcStarted("Watch");
  metrics.RpcStarted("Assess");  // not streaming under these options
  EXPECT_THAT(SeriesValue(*registry, "prunegate_inflight_streams"), Optional(1.0));
}

TEST_F(MetricsTest, UnaryRpcCountsLatencyAndInflight) {
  metrics_.RpcStarted("LoadModel");
  EXPECT_THAT(Value("prunegate_inflight_requests", {{"rpc", "LoadModel"}}), Optional(1.0));
  EXPECT_THAT(Value("prunegate_inflight_streams"), Optional(0.0));
  // The success series exists from the first call on, at 0.
  EXPECT_THAT(Value("prunegate_rpc_requests_total", {{"rpc", "LoadModel"}, {"code", "OK"}}),
              Optional(0.0));

  metrics_.RpcFinished("LoadModel", /*INVALID_ARGUMENT*/ 3, 0.02);
  EXPECT_THAT(Value("prunegate_inflight_requests", {{"rpc", "LoadModel"}}), Optional(0.0));
  EXPECT_THAT(
      Value("prunegate_rpc_requests_total", {{"rpc", "LoadModel"}, {"code", "INVALID_ARGUMENT"}}),
      Optional(1.0));
  EXPECT_THAT(Value("prunegate_rpc_requests_total", {{"rpc", "LoadModel"}, {"code", "OK"}}),
              Optional(0.0));

  auto latency = FindSeries(*registry_, "prunegate_rpc_latency_seconds", {{"rpc", "LoadModel"}});
  ASSERT_TRUE(latency.has_value());
  EXPECT_EQ(latency->histogram.sample_count, 1u);
  EXPECT_DOUBLE_EQ(latency->histogram.sample_sum, 0.02);
  for (const auto& bucket : latency->histogram.bucket) {
    EXPECT_EQ(bucket.cumulative_count, bucket.upper_bound >= 0.02 ? 1u : 0u)
        << "le=" << bucket.upper_bound;
  }
  // Other RPCs are untouched.
  EXPECT_EQ(Value("prunegate_inflight_requests", {{"rpc", "ListModels"}}), std::nullopt);
}

TEST_F(MetricsTest, StreamingRpcsCountInInflightStreams) {
  metrics_.RpcStarted("ProbeLayers");
  metrics_.RpcStarted("/prunegate.v1.Prunegate/Assess");
  metrics_.RpcStarted("ListModels");
  EXPECT_THAT(Value("prunegate_inflight_streams"), Optional(2.0));
  EXPECT_THAT(Value("prunegate_inflight_requests", {{"rpc", "/prunegate.v1.Prunegate/Assess"}}),
              Optional(1.0));
  metrics_.RpcFinished("ProbeLayers", 1, 3.5);
  EXPECT_THAT(Value("prunegate_inflight_streams"), Optional(1.0));
  EXPECT_THAT(
      Value("prunegate_rpc_requests_total", {{"rpc", "ProbeLayers"}, {"code", "CANCELLED"}}),
      Optional(1.0));
  metrics_.RpcFinished("ListModels", 0, 0.001);
  EXPECT_THAT(Value("prunegate_inflight_streams"), Optional(1.0));
  metrics_.RpcFinished("/prunegate.v1.Prunegate/Assess", 0, 120);
  EXPECT_THAT(Value("prunegate_inflight_streams"), Optional(0.0));
}

TEST_F(MetricsTest, CodeNamesCoverGrpcAndMapTheRestToUnknown) {
  EXPECT_STREQ(GrpcCodeName(0), "OK");
  EXPECT_STREQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_STREQ(GrpcCodeName(8), "RESOURCE_EXHAUSTED");
  EXPECT_STREQ(GrpcCodeName(9), "FAILED_PRECONDITION");
  EXPECT_STREQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(GrpcCodeName(17), "UNKNOWN");
  EXPECT_STREQ(GrpcCodeName(-1), "UNKNOWN");
  metrics_.RpcStarted("Assess");
  metrics_.RpcFinished("Assess", 99, 1);
  EXPECT_THAT(Value("prunegate_rpc_requests_total", {{"rpc", "Assess"}, {"code", "UNKNOWN"}}),
              Optional(1.0));
}

TEST_F(MetricsTest, LatencyBucketsSpanOneMillisecondToTenMinutes) {
  const std::vector<double>& buckets = RpcLatencyBuckets();
  ASSERT_GE(buckets.size(), 10u);
  EXPECT_DOUBLE_EQ(buckets.front(), 0.001);
  EXPECT_DOUBLE_EQ(buckets.back(), 600);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end()));
  EXPECT_EQ(std::adjacent_find(buckets.begin(), buckets.end()), buckets.end());
}

TEST_F(MetricsTest, NegativeOrNanLatencyIsObservedAsZero) {
  metrics_.RpcStarted("ListModels");
  metrics_.RpcFinished("ListModels", 0, -1);
  metrics_.RpcStarted("ListModels");
  metrics_.RpcFinished("ListModels", 0, std::numeric_limits<double>::quiet_NaN());
  auto latency = FindSeries(*registry_, "prunegate_rpc_latency_seconds", {{"rpc", "ListModels"}});
  ASSERT_TRUE(latency.has_value());
  EXPECT_EQ(latency->histogram.sample_count, 2u);
  EXPECT_EQ(latency->histogram.sample_sum, 0.0);
}

TEST_F(MetricsTest, MessageStreamedCountsPerRpc) {
  for (int i = 0; i < 5; ++i) metrics_.MessageStreamed("TraceDecode");
  metrics_.MessageStreamed("ProbeLayers");
  EXPECT_THAT(Value("prunegate_streamed_messages_total", {{"rpc", "TraceDecode"}}), Optional(5.0));
  EXPECT_THAT(Value("prunegate_streamed_messages_total", {{"rpc", "ProbeLayers"}}), Optional(1.0));
}

TEST_F(MetricsTest, SetModelsReportsBytesAndCountsSharedBytesOnce) {
  metrics_.SetModels({
      {"base", "cpu", 1000, 0, true},
      {"cand", "cpu", 900, 800, true},   // shares 800 bytes with base
      {"loading", "cpu", 50, 0, false},  // memory in use, not READY yet
      {"gpu", "cuda:0", 4000, 0, true},
  });
  EXPECT_THAT(Value("prunegate_models_resident", {{"device", "cpu"}}), Optional(2.0));
  EXPECT_THAT(Value("prunegate_models_resident", {{"device", "cuda:0"}}), Optional(1.0));
  EXPECT_THAT(Value("prunegate_device_bytes_resident", {{"device", "cpu"}}),
              Optional(1000.0 + 100 + 50));
  EXPECT_THAT(Value("prunegate_device_bytes_resident", {{"device", "cuda:0"}}), Optional(4000.0));
  EXPECT_THAT(Value("prunegate_model_bytes_resident", {{"model", "cand"}, {"device", "cpu"}}),
              Optional(900.0));
  EXPECT_THAT(Value("prunegate_model_bytes_shared", {{"model", "cand"}, {"device", "cpu"}}),
              Optional(800.0));
  EXPECT_THAT(Value("prunegate_model_bytes_shared", {{"model", "base"}, {"device", "cpu"}}),
              Optional(0.0));
  EXPECT_EQ(SeriesCount(*registry_, "prunegate_model_bytes_resident"), 4u);
}

TEST_F(MetricsTest, SetModelsRemovesSeriesOfUnloadedModelsAndDevices) {
  metrics_.SetModels({{"base", "cpu", 1000, 0, true},
                      {"cand", "cpu", 900, 800, true},
                      {"gpu", "cuda:0", 4000, 0, true}});
  metrics_.ForwardTokens("cand", 10);
  metrics_.ForwardTokens("base", 10);
  metrics_.LastKl("base", "cand", 0.5);
  metrics_.LastKl("base", "gpu", 0.25);

  metrics_.SetModels({{"base", "cpu", 1000, 0, true}, {"gpu", "cuda:0", 4000, 0, true}});
  EXPECT_EQ(Value("prunegate_model_bytes_resident", {{"model", "cand"}, {"device", "cpu"}}),
            std::nullopt);
  EXPECT_EQ(Value("prunegate_model_bytes_shared", {{"model", "cand"}, {"device", "cpu"}}),
            std::nullopt);
  EXPECT_EQ(Value("prunegate_forward_tokens_total", {{"model", "cand"}}), std::nullopt);
  EXPECT_EQ(Value("prunegate_last_kl", {{"baseline", "base"}, {"candidate", "cand"}}),
            std::nullopt);
  EXPECT_THAT(Value("prunegate_forward_tokens_total", {{"model", "base"}}), Optional(10.0));
  EXPECT_THAT(Value("prunegate_last_kl", {{"baseline", "base"}, {"candidate", "gpu"}}),
              Optional(0.25));
  EXPECT_THAT(Value("prunegate_models_resident", {{"device", "cpu"}}), Optional(1.0));
  EXPECT_THAT(Value("prunegate_device_bytes_resident", {{"device", "cpu"}}), Optional(1000.0));

  metrics_.SetModels({{"base", "cpu", 1000, 0, true}});
  EXPECT_EQ(Value("prunegate_models_resident", {{"device", "cuda:0"}}), std::nullopt);
  EXPECT_EQ(Value("prunegate_device_bytes_resident", {{"device", "cuda:0"}}), std::nullopt);

  metrics_.SetModels({});
  EXPECT_EQ(SeriesCount(*registry_, "prunegate_models_resident"), 0u);
  EXPECT_EQ(SeriesCount(*registry_, "prunegate_device_bytes_resident"), 0u);
  EXPECT_EQ(SeriesCount(*registry_, "prunegate_model_bytes_resident"), 0u);
  EXPECT_EQ(SeriesCount(*registry_, "prunegate_forward_tokens_total"), 0u);
  EXPECT_EQ(SeriesCount(*registry_, "prunegate_last_kl"), 0u);

  // A model loaded again starts a fresh series.
  metrics_.SetModels({{"cand", "cpu", 10, 0, true}});
  metrics_.ForwardTokens("cand", 3);
  EXPECT_THAT(Value("prunegate_forward_tokens_total", {{"model", "cand"}}), Optional(3.0));
}

TEST_F(MetricsTest, SetModelsTakesTheLaterOfDuplicateSamples) {
  metrics_.SetModels({{"base", "cpu", 1000, 0, false}, {"base", "cpu", 1200, 0, true}});
  EXPECT_THAT(Value("prunegate_model_bytes_resident", {{"model", "base"}, {"device", "cpu"}}),
              Optional(1200.0));
  EXPECT_THAT(Value("prunegate_models_resident", {{"device", "cpu"}}), Optional(1.0));
  EXPECT_THAT(Value("prunegate_device_bytes_resident", {{"device", "cpu"}}), Optional(1200.0));
}

TEST_F(MetricsTest, ForwardTokensAccumulatesPerModelAndIgnoresNegatives) {
  metrics_.ForwardTokens("base", 128);
  metrics_.ForwardTokens("base", 1);
  metrics_.ForwardTokens("base", -5);
  metrics_.ForwardTokens("cand", 7);
  EXPECT_THAT(Value("prunegate_forward_tokens_total", {{"model", "base"}}), Optional(129.0));
  EXPECT_THAT(Value("prunegate_forward_tokens_total", {{"model", "cand"}}), Optional(7.0));
}

TEST_F(MetricsTest, VerdictGivenCountsByTaskAndVerdict) {
  metrics_.VerdictGiven("generation", "UNSAFE");
  metrics_.VerdictGiven("generation", "UNSAFE");
  metrics_.VerdictGiven("multiple_choice", "SAFE");
  EXPECT_THAT(Value("prunegate_verdicts_total", {{"task", "generation"}, {"verdict", "UNSAFE"}}),
              Optional(2.0));
  EXPECT_THAT(Value("prunegate_verdicts_total", {{"task", "multiple_choice"}, {"verdict", "SAFE"}}),
              Optional(1.0));
  // The other outcomes of a task exist from its first verdict on, at 0.
  EXPECT_THAT(Value("prunegate_verdicts_total", {{"task", "generation"}, {"verdict", "SAFE"}}),
              Optional(0.0));
  EXPECT_THAT(Value("prunegate_verdicts_total", {{"task", "generation"}, {"verdict", "RISKY"}}),
              Optional(0.0));
  EXPECT_THAT(
      Value("prunegate_verdicts_total", {{"task", "multiple_choice"}, {"verdict", "UNSAFE"}}),
      Optional(0.0));
  EXPECT_EQ(SeriesCount(*registry_, "prunegate_verdicts_total"), 6u);
}

TEST_F(MetricsTest, LastKlKeepsTheLatestValuePerPair) {
  metrics_.LastKl("base", "cand", 0.5);
  metrics_.LastKl("base", "cand", 0.125);
  metrics_.LastKl("cand", "base", 2);
  EXPECT_THAT(Value("prunegate_last_kl", {{"baseline", "base"}, {"candidate", "cand"}}),
              Optional(0.125));
  EXPECT_THAT(Value("prunegate_last_kl", {{"baseline", "cand"}, {"candidate", "base"}}),
              Optional(2.0));
}

TEST_F(MetricsTest, LabelValuesAreEscapedInTheText) {
  metrics_.VerdictGiven("gen\"er\\ation\n", "SAFE");
  EXPECT_THAT(Text(), HasSubstr(R"(task="gen\"er\\ation\n")"));
}

// Threads hammer every method (SetModels included) while another collects; the totals must come
// out exact and nothing may crash (run under ASan/TSan builds too).
TEST_F(MetricsTest, ConcurrentUpdatesAreExact) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 2000;
  std::atomic<bool> done{false};
  std::thread collector([&] {
    while (!done.load()) Text();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string rpc = t % 2 == 0 ? "TraceDecode" : "ListModels";
      const std::string own_model = absl::StrCat("model", t);
      for (int i = 0; i < kIterations; ++i) {
        metrics_.RpcStarted(rpc);
        metrics_.MessageStreamed(rpc);
        metrics_.ForwardTokens("base", 2);
        metrics_.ForwardTokens(own_model, 1);  // removed and re-created by SetModels below
        metrics_.LastKl("base", own_model, i);
        metrics_.VerdictGiven("generation", i % 3 == 0 ? "UNSAFE" : "SAFE");
        if (i % 50 == 0) {
          std::vector<ModelSample> models = {{"base", "cpu", 1000, 0, true}};
          if (i % 100 == 0) models.push_back({own_model, "cpu", 10, 10, true});
          metrics_.SetModels(models);
        }
        metrics_.RpcFinished(rpc, i % 17, 0.001 * (i % 100));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done.store(true);
  collector.join();

  const double total = static_cast<double>(kThreads) * kIterations;
  EXPECT_THAT(Value("prunegate_forward_tokens_total", {{"model", "base"}}), Optional(2 * total));
  EXPECT_THAT(Value("prunegate_streamed_messages_total", {{"rpc", "TraceDecode"}}),
              Optional(total / 2));
  EXPECT_THAT(Value("prunegate_inflight_streams"), Optional(0.0));
  EXPECT_THAT(Value("prunegate_inflight_requests", {{"rpc", "TraceDecode"}}), Optional(0.0));
  EXPECT_THAT(Value("prunegate_inflight_requests", {{"rpc", "ListModels"}}), Optional(0.0));
  double requests = 0;
  for (int code = 0; code < 17; ++code) {
    for (const char* rpc : {"TraceDecode", "ListModels"}) {
      requests +=
          Value("prunegate_rpc_requests_total", {{"rpc", rpc}, {"code", GrpcCodeName(code)}})
              .value_or(0);
    }
  }
  EXPECT_EQ(requests, total);
  auto latency = FindSeries(*registry_, "prunegate_rpc_latency_seconds", {{"rpc", "ListModels"}});
  ASSERT_TRUE(latency.has_value());
  EXPECT_EQ(latency->histogram.sample_count, static_cast<uint64_t>(total / 2));
  double verdicts =
      Value("prunegate_verdicts_total", {{"task", "generation"}, {"verdict", "UNSAFE"}})
          .value_or(0) +
      Value("prunegate_verdicts_total", {{"task", "generation"}, {"verdict", "SAFE"}}).value_or(0);
  EXPECT_EQ(verdicts, total);
}

// promtool's linter (names, HELP, _total on counters, base units) accepts every family, with
// samples in each.
TEST_F(MetricsTest, TextPassesPromtoolCheckMetrics) {
  std::optional<std::string> promtool = FindExecutable("promtool");
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  metrics_.RpcStarted("ProbeLayers");
  metrics_.MessageStreamed("ProbeLayers");
  metrics_.RpcFinished("ProbeLayers", 0, 0.3);
  metrics_.RpcStarted("LoadModel");
  metrics_.SetModels({{"base", "cpu", 1000, 0, true}, {"cand", "cpu", 900, 800, true}});
  metrics_.ForwardTokens("base", 10);
  metrics_.VerdictGiven("generation", "UNSAFE");
  metrics_.LastKl("base", "cand", 0.01);
  const std::string text = Text();
  auto result = RunCommand({*promtool, "check", "metrics"}, text);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->exit_code, 0) << result->output << "\n--- text ---\n" << text;
}

// promtool must fail on a broken exposition, or the check above would prove nothing.
TEST(PromtoolTest, RejectsACounterWithoutTotalSuffix) {
  std::optional<std::string> promtool = FindExecutable("promtool");
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  auto result = RunCommand({*promtool, "check", "metrics"},
                           "# HELP prunegate_bad Bad.\n# TYPE prunegate_bad counter\n"
                           "prunegate_bad 1\n");
  ASSERT_THAT(result, IsOk());
  EXPECT_NE(result->exit_code, 0) << result->output;
}

// deploy/prometheus/rules.yml: valid, its alerts behave as rules_test.yml says, and it only names
// families this server exports.
std::string RulesDir() { return ::prunegate::testing::SourceDir() + "/deploy/prometheus"; }

TEST(PrometheusRulesTest, PromtoolCheckRules) {
  std::optional<std::string> promtool = FindExecutable("promtool");
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  auto result = RunCommand({*promtool, "check", "rules", RulesDir() + "/rules.yml"});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->exit_code, 0) << result->output;
  EXPECT_THAT(result->output, HasSubstr("SUCCESS"));
}

TEST(PrometheusRulesTest, PromtoolTestRules) {
  std::optional<std::string> promtool = FindExecutable("promtool");
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  auto result = RunCommand({*promtool, "test", "rules", RulesDir() + "/rules_test.yml"});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->exit_code, 0) << result->output;
}

TEST(PrometheusRulesTest, RulesNameOnlyExportedFamilies) {
  std::ifstream in(RulesDir() + "/rules.yml");
  ASSERT_TRUE(in.good()) << RulesDir() << "/rules.yml";
  std::stringstream rules;
  rules << in.rdbuf();
  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(registry);
  std::set<std::string> named;
  const std::string text = rules.str();
  for (size_t pos = text.find("prunegate_"); pos != std::string::npos;
       pos = text.find("prunegate_", pos + 1)) {
    if (pos > 0 &&
        (std::isalnum(static_cast<unsigned char>(text[pos - 1])) || text[pos - 1] == '_')) {
      continue;
    }
    size_t end = pos;
    while (end < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) {
      ++end;
    }
    named.insert(text.substr(pos, end - pos));
  }
  ASSERT_FALSE(named.empty());
  for (const std::string& name : named) {
    // Registering another type under an exported family's name throws.
    EXPECT_THROW(prometheus::BuildSummary().Name(name).Help("x").Register(*registry),
                 std::invalid_argument)
        << "rules.yml names " << name << ", which the server does not export";
  }
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  Metrics metrics_{registry_};
};

TEST_F(MetricsHttpServerTest, ServesTheTextFormatOverHttp) {
  metrics_.VerdictGiven("retrieval", "RISKY");
  PG_ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start(registry_, "127.0.0.1", 0));
  ASSERT_GT(server->port(), 0);

  auto response = HttpGet("127.0.0.1", server->port(), "/metrics");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->content_type, StartsWith("text/plain; version=0.0.4"));
  EXPECT_EQ(response->body, prometheus::TextSerializer().Serialize(registry_->Collect()));
  EXPECT_THAT(response->body,
              HasSubstr("prunegate_verdicts_total{task=\"retrieval\",verdict=\"RISKY\"} 1"));

  // The text is produced on each scrape.
  metrics_.VerdictGiven("retrieval", "RISKY");
  response = HttpGet("127.0.0.1", server->port(), "/metrics");
  ASSERT_THAT(response, IsOk());
  EXPECT_THAT(response->body,
              HasSubstr("prunegate_verdicts_total{task=\"retrieval\",verdict=\"RISKY\"} 2"));
}

TEST_F(MetricsHttpServerTest, OtherPathsAre404AndOtherMethods405) {
  PG_ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start(registry_, "127.0.0.1", 0));
  for (const char* path : {"/", "/metric", "/metrics/x", "/favicon.ico"}) {
    auto response = HttpGet("127.0.0.1", server->port(), path);
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 404) << path;
    EXPECT_THAT(response->body, HasSubstr("/metrics")) << path;
  }
  httplib::Client client("127.0.0.1", server->port());
  httplib::Result post = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post) << httplib::to_string(post.error());
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  httplib::Result head = client.Head("/metrics");
  ASSERT_TRUE(head) << httplib::to_string(head.error());
  EXPECT_EQ(head->status, 200);
}

TEST_F(MetricsHttpServerTest, StopClosesThePortAndItCanBeBoundAgain) {
  PG_ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start(registry_, "127.0.0.1", 0));
  const int port = server->port();
  ASSERT_THAT(HttpGet("127.0.0.1", port, "/metrics"), IsOk());
  server->Stop();
  server->Stop();  // idempotent
  EXPECT_THAT(HttpGet("127.0.0.1", port, "/metrics"), StatusIs(absl::StatusCode::kUnavailable));

  PG_ASSERT_OK_AND_ASSIGN(auto again, MetricsHttpServer::Start(registry_, "127.0.0.1", port));
  EXPECT_EQ(again->port(), port);
  auto response = HttpGet("127.0.0.1", port, "/metrics");
  ASSERT_THAT(response, IsOk());
  EXPECT_EQ(response->status, 200);
  server.reset();  // destroying the stopped server leaves the new one alone
  EXPECT_THAT(HttpGet("127.0.0.1", port, "/metrics"), IsOk());
}

TEST_F(MetricsHttpServerTest, StopRightAfterStartDoesNotHang) {
  for (int i = 0; i < 20; ++i) {
    PG_ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start(registry_, "127.0.0.1", 0));
    server->Stop();
  }
}

TEST_F(MetricsHttpServerTest, PortInUseIsUnavailable) {
  PG_ASSERT_OK_AND_ASSIGN(auto first, MetricsHttpServer::Start(registry_, "127.0.0.1", 0));
  EXPECT_THAT(MetricsHttpServer::Start(registry_, "127.0.0.1", first->port()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("already in use")));
  // The first server still answers every scrape (the port is not shared).
  for (int i = 0; i < 5; ++i) {
    auto response = HttpGet("127.0.0.1", first->port(), "/metrics");
    ASSERT_THAT(response, IsOk());
    EXPECT_EQ(response->status, 200);
  }
}

TEST_F(MetricsHttpServerTest, BadArgumentsArePreciseErrors) {
  EXPECT_THAT(MetricsHttpServer::Start(registry_, "127.0.0.1", -1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside 0..65535")));
  EXPECT_THAT(MetricsHttpServer::Start(registry_, "127.0.0.1", 65536),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("65536")));
  EXPECT_THAT(MetricsHttpServer::Start(registry_, "", 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty host")));
  EXPECT_THAT(MetricsHttpServer::Start(nullptr, "127.0.0.1", 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("registry")));
  // 192.0.2.1 (TEST-NET-1) is not an address of this machine.
  EXPECT_THAT(MetricsHttpServer::Start(registry_, "192.0.2.1", 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("192.0.2.1")));
}

TEST_F(MetricsHttpServerTest, ScrapesWhileMetricsChange) {
  PG_ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start(registry_, "127.0.0.1", 0));
  metrics_.RpcStarted("Assess");
  metrics_.RpcFinished("Assess", 0, 0.01);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done.load(); ++i) {
      metrics_.RpcStarted("Assess");
      metrics_.SetModels({{absl::StrCat("m", i % 3), "cpu", 100, 0, true}});
      metrics_.ForwardTokens(absl::StrCat("m", i % 3), 1);
      metrics_.RpcFinished("Assess", 0, 0.01);
    }
  });
  std::vector<std::thread> scrapers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 3; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        auto response = HttpGet("127.0.0.1", server->port(), "/metrics");
        if (response.ok() && response->status == 200 &&
            response->body.find("prunegate_rpc_requests_total") != std::string::npos) {
          ok.fetch_add(1);
        } else {
          ADD_FAILURE() << (response.ok() ? absl::StrCat(response->status, " ", response->body)
                                          : response.status().ToString());
        }
      }
    });
  }
  for (std::thread& scraper : scrapers) scraper.join();
  done.store(true);
  writer.join();
  EXPECT_EQ(ok.load(), 90);
}

TEST_F(MetricsHttpServerTest, ServedTextPassesPromtool) {
  std::optional<std::string> promtool = FindExecutable("promtool");
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  metrics_.RpcStarted("Assess");
  metrics_.RpcFinished("Assess", 8, 42);
  metrics_.SetModels({{"base", "cpu", 1000, 0, true}});
  metrics_.VerdictGiven("generation", "SAFE");
  metrics_.LastKl("base", "base", 0);
  PG_ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start(registry_, "127.0.0.1", 0));
  auto response = HttpGet("127.0.0.1", server->port(), "/metrics");
  ASSERT_THAT(response, IsOk());
  ASSERT_EQ(response->status, 200);
  auto result = RunCommand({*promtool, "check", "metrics"}, response->body);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->exit_code, 0) << result->output << "\n--- served ---\n" << response->body;
}

}  // namespace
}  // namespace prunegate::service
