#include "server/service/auth.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace prunegate::service {
namespace {

constexpr absl::string_view kBearerPrefix = "Bearer ";

// The bearer token of the call, or "" when the call carries none.
absl::string_view BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return {};
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kBearerPrefix)) return {};
  return absl::StripAsciiWhitespace(value.substr(kBearerPrefix.size()));
}

}  // namespace

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

absl::Status BearerAuth::Check(const grpc::ServerContextBase& context) const {
  if (!enabled()) return absl::OkStatus();
  // PERMISSION_DENIED for every failure, as DESIGN.md names it for a bad token; the message
  // says which failure it was.
  const auto& metadata = context.client_metadata();
  if (metadata.find("authorization") == metadata.end()) {
    return absl::PermissionDeniedError(
        "missing bearer token: send the metadata \"authorization: Bearer <token>\"");
  }
  const absl::string_view token = BearerToken(context);
  if (token.empty()) {
    return absl::PermissionDeniedError(
        "malformed authorization metadata: expected \"Bearer <token>\"");
  }
  if (!ConstantTimeEquals(std::string(token), token_)) {
    return absl::PermissionDeniedError("wrong bearer token");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read token file ", path));
  std::ostringstream content;
  content << in.rdbuf();
  const std::string token(absl::StripAsciiWhitespace(content.str()));
  if (token.empty())
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  return token;
}

std::string ClientKey(const grpc::ServerContextBase& context) {
  const absl::string_view token = BearerToken(context);
  if (!token.empty()) return absl::StrCat("token:", token);
  const std::string peer = context.peer();
  absl::string_view address = peer;
  if (absl::ConsumePrefix(&address, "ipv4:")) {
    const size_t colon = address.rfind(':');
    if (colon != absl::string_view::npos) address = address.substr(0, colon);
  } else if (absl::ConsumePrefix(&address, "ipv6:")) {
    if (absl::ConsumePrefix(&address, "[")) {
      const size_t bracket = address.find(']');
      if (bracket != absl::string_view::npos) address = address.substr(0, bracket);
    }
  }
  return absl::StrCat("peer:", address);
}

}  // namespace prunegate::service
