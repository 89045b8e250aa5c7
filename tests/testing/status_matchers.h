// Short matchers for absl::Status / StatusOr in the spirit of absl's status_matchers.h.
#ifndef PRUNEGATE_TESTS_TESTING_STATUS_MATCHERS_H_
#define PRUNEGATE_TESTS_TESTING_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace prunegate::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::prunegate::testing::GetStatus(arg);
  if (!s.ok()) *result_listener << "status: " << s.ToString();
  return s.ok();
}

// StatusIs(code) or StatusIs(code, HasSubstr("...")).
MATCHER_P(StatusIs, code, "") {
  const absl::Status& s = ::prunegate::testing::GetStatus(arg);
  *result_listener << "status: " << s.ToString();
  return s.code() == code;
}
MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& s = ::prunegate::testing::GetStatus(arg);
  *result_listener << "status: " << s.ToString();
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

}  // namespace prunegate::testing

#define PG_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  PG_ASSERT_OK_AND_ASSIGN_IMPL_(PG_CONCAT_T_(pg_sor_, __LINE__), lhs, expr)
#define PG_CONCAT_T_INNER_(a, b) a##b
#define PG_CONCAT_T_(a, b) PG_CONCAT_T_INNER_(a, b)
#define PG_ASSERT_OK_AND_ASSIGN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                  \
  ASSERT_TRUE(var.ok()) << var.status().ToString();   \
  lhs = std::move(var).value()

#endif  // PRUNEGATE_TESTS_TESTING_STATUS_MATCHERS_H_
