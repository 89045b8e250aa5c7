// TLS certificates for integration tests, made once per process by the openssl CLI in a temporary
// directory. Torch-free.
#ifndef PRUNEGATE_TESTS_TESTING_TLS_CERTIFICATES_H_
#define PRUNEGATE_TESTS_TESTING_TLS_CERTIFICATES_H_

#include <string>

#include "absl/status/statusor.h"

namespace prunegate::testing {

// The directory holding, each as NAME.crt and NAME.key (PEM):
//   ca, rogue-ca    two self-signed CAs
//   server          signed by ca, for DNS:localhost and IP:127.0.0.1 (serverAuth)
//   client          signed by ca (clientAuth)
//   rogue-client    signed by rogue-ca (clientAuth): a server trusting ca must refuse it
// INTERNAL with openssl's output when it could not make them.
absl::StatusOr<std::string> TestCertificates();

}  // namespace prunegate::testing

#endif  // PRUNEGATE_TESTS_TESTING_TLS_CERTIFICATES_H_
