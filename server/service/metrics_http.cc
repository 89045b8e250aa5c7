#include "server/service/metrics_http.h"

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "prometheus/text_serializer.h"

namespace prunegate::service {
namespace {

// Scrapes are short; a few workers let a Prometheus keep-alive connection and a curl coexist.
constexpr size_t kWorkerThreads = 4;

// cpp-httplib's default sets SO_REUSEPORT on Linux, which would let a second server bind a port
// that is in use and split the scrapes between them. SO_REUSEADDR alone still allows an
// immediate rebind after Stop() (TIME_WAIT) but makes an occupied port an error.
void ReuseAddrOnly(int sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

std::string Endpoint(const std::string& host, int port) {
  return host.find(':') == std::string::npos ? absl::StrCat(host, ":", port)
                                             : absl::StrCat("[", host, "]:", port);
}

// Resolves `host` as a passive (listening) address, so an unknown name gets its own message
// rather than whatever errno the failed bind left behind.
absl::Status CheckResolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), "0", &hints, &result);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listener: cannot resolve host \"", host, "\": ", gai_strerror(rc)));
  }
  freeaddrinfo(result);
  return absl::OkStatus();
}

absl::Status BindError(const std::string& host, int port, int error) {
  std::string where = Endpoint(host, port);
  if (error == EADDRINUSE) {
    return absl::UnavailableError(
        absl::StrCat("metrics listener: ", where, " is already in use (", std::strerror(error),
                     "); choose another --metrics-port, or 0 for any free port"));
  }
  if (error != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics listener: cannot listen on ", where, ": ", std::strerror(error)));
  }
  return absl::FailedPreconditionError(absl::StrCat("metrics listener: cannot listen on ", where));
}

void ConfigureRoutes(httplib::Server& server, std::shared_ptr<prometheus::Registry> registry) {
  server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus::TextSerializer().Serialize(registry->Collect()),
                    kPrometheusTextContentType);
  });
  auto method_not_allowed = [](const httplib::Request& req, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content(absl::StrCat(req.method, " is not allowed on /metrics; use GET\n"),
                    "text/plain; charset=utf-8");
  };
  server.Post("/metrics", method_not_allowed);
  server.Put("/metrics", method_not_allowed);
  server.Patch("/metrics", method_not_allowed);
  server.Delete("/metrics", method_not_allowed);
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      res.set_content(absl::StrCat("no such path: ", req.path, "; metrics are at /metrics\n"),
                      "text/plain; charset=utf-8");
    }
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_content(absl::StrCat("collecting metrics failed: ", what, "\n"),
                        "text/plain; charset=utf-8");
      });
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<httplib::Server> server, int port)
    : server_(std::move(server)), port_(port) {}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    std::shared_ptr<prometheus::Registry> registry, const std::string& host, int port) {
  if (registry == nullptr) {
    return absl::InvalidArgumentError("metrics listener: the registry is null");
  }
  if (host.empty()) {
    return absl::InvalidArgumentError("metrics listener: empty host (use 127.0.0.1 or 0.0.0.0)");
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listener: port ", port, " is outside 0..65535 (0 = any free port)"));
  }

  if (absl::Status resolved = CheckResolves(host); !resolved.ok()) return resolved;

  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server->set_socket_options(ReuseAddrOnly);
  ConfigureRoutes(*server, std::move(registry));

  errno = 0;
  int bound = port;
  if (port == 0) {
    bound = server->bind_to_any_port(host);
  } else if (!server->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0) return BindError(host, port, errno);

  std::unique_ptr<MetricsHttpServer> self(new MetricsHttpServer(std::move(server), bound));
  auto exited = std::make_shared<std::atomic<bool>>(false);
  httplib::Server* raw = self->server_.get();
  self->listener_ = std::thread([raw, exited] {
    raw->listen_after_bind();
    exited->store(true);
  });
  // httplib's stop() is a no-op until the listener has marked itself running (the first thing
  // listen_after_bind does), so wait for that: a Stop() right after Start() must not leave the
  // listener blocked in accept().
  while (!raw->is_running()) {
    if (exited->load()) {
      self->listener_.join();
      absl::MutexLock lock(&self->stop_mu_);
      self->stopped_ = true;
      return absl::InternalError(absl::StrCat("metrics listener on ", Endpoint(host, bound),
                                              " exited as soon as it started"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return self;
}

void MetricsHttpServer::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  server_->stop();
  if (listener_.joinable()) listener_.join();
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

}  // namespace prunegate::service
