# Prometheus metrics of the server and the HTTP listener that serves them (no torch, no gRPC).
# prometheus-cpp core only: its pull Exposer cannot start in a process that links libtorch
# (TOOLCHAIN.md trap 2), so /metrics is served with cpp-httplib instead.
set(PRUNEGATE_VERSION "0.1.0-dev" CACHE STRING "Version reported by prunegate_build_info")

add_library(prunegate_metrics STATIC
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/metrics_http.cc)
target_include_directories(prunegate_metrics PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(prunegate_metrics PRIVATE PRUNEGATE_VERSION="${PRUNEGATE_VERSION}")
target_link_libraries(prunegate_metrics
  PUBLIC prometheus-cpp::core absl::statusor absl::synchronization absl::flat_hash_map
         absl::flat_hash_set absl::core_headers
  PRIVATE PkgConfig::HTTPLIB absl::strings)
