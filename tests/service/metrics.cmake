# Metrics tests (included from tests/service/CMakeLists.txt).
add_library(prunegate_metrics_testing STATIC ${CMAKE_CURRENT_LIST_DIR}/metrics_test_util.cc)
target_link_libraries(prunegate_metrics_testing
  PUBLIC prunegate_testing prometheus-cpp::core absl::statusor absl::time
  PRIVATE PkgConfig::HTTPLIB absl::strings)

prunegate_add_test(metrics_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/metrics_test.cc
  LIBS prunegate_metrics prunegate_metrics_testing PkgConfig::HTTPLIB)
# The same listener in a process that links libtorch (TOOLCHAIN.md trap 2).
prunegate_add_test(metrics_http_torch_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/metrics_http_torch_test.cc
  LIBS prunegate_metrics prunegate_metrics_testing prunegate_model)
# The real server scraped by a real Prometheus (skips when /usr/bin/prometheus is absent).
prunegate_add_test(prometheus_scrape_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/prometheus_scrape_test.cc
  LIBS prunegate_metrics_testing prunegate_testing_server nlohmann_json::nlohmann_json
       PkgConfig::HTTPLIB
  TIMEOUT 240 LABELS integration)
