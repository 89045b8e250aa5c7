// Early-return helpers for absl::Status / absl::StatusOr.
#ifndef PRUNEGATE_SERVER_COMMON_STATUS_MACROS_H_
#define PRUNEGATE_SERVER_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PG_CONCAT_INNER_(a, b) a##b
#define PG_CONCAT_(a, b) PG_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define PG_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status pg_status_ = (expr);      \
    if (!pg_status_.ok()) return pg_status_; \
  } while (0)

// `PG_ASSIGN_OR_RETURN(auto x, MakeX());` — assigns the value or returns the error.
#define PG_ASSIGN_OR_RETURN(lhs, expr) \
  PG_ASSIGN_OR_RETURN_IMPL_(PG_CONCAT_(pg_statusor_, __LINE__), lhs, expr)
#define PG_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                              \
  if (!var.ok()) return std::move(var).status();  \
  lhs = std::move(var).value()

#endif  // PRUNEGATE_SERVER_COMMON_STATUS_MACROS_H_
