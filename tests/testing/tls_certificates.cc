#include "tests/testing/tls_certificates.h"

#include <cstdlib>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/paths.h"

namespace prunegate::testing {
namespace {

absl::StatusOr<std::string> MakeCertificates() {
  const std::string dir = MakeTempDir("prunegate-tls");
  const std::string script = absl::StrCat(R"(set -e
cd ')",
                                          dir, R"('
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
ca() { key "$1"; openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 2 -subj "/CN=$1"; }
leaf() {  # name ca cn extfile
  key "$1"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" \
    -days 2 -extfile "$4"
}
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
ca ca
ca rogue-ca
leaf server ca localhost server.ext
leaf client ca client client.ext
leaf rogue-client rogue-ca client client.ext
)");
  std::ofstream(dir + "/make-certs.sh") << script;
  const std::string command =
      absl::StrCat("bash '", dir, "/make-certs.sh' > '", dir, "/openssl.log' 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("openssl failed: ", ReadWholeFile(dir + "/openssl.log")));
  }
  return dir;
}

}  // namespace

absl::StatusOr<std::string> TestCertificates() {
  static const auto* made = new absl::StatusOr<std::string>(MakeCertificates());
  return *made;
}

}  // namespace prunegate::testing
