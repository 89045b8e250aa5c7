#include "server/service/server_options.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "server/common/status_macros.h"
#include "server/service/auth.h"

namespace prunegate::service {
namespace {

using Setter = std::function<absl::Status(const std::string& value, ServerOptions* options)>;

absl::Status BadValue(const std::string& flag, const std::string& value, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": expected ", expected, ", got \"", value, "\""));
}

template <typename Int>
Setter IntSetter(Int ServerOptions::*field, int64_t min, int64_t max, const char* flag) {
  return [=](const std::string& value, ServerOptions* options) -> absl::Status {
    int64_t parsed = 0;
    if (!absl::SimpleAtoi(value, &parsed) || parsed < min || parsed > max) {
      return BadValue(flag, value, absl::StrCat("an integer in [", min, ", ", max, "]").c_str());
    }
    options->*field = static_cast<Int>(parsed);
    return absl::OkStatus();
  };
}

Setter LimitSetter(int64_t RequestLimits::*field, const char* flag) {
  return [=](const std::string& value, ServerOptions* options) -> absl::Status {
    int64_t parsed = 0;
    if (!absl::SimpleAtoi(value, &parsed) || parsed < 1) {
      return BadValue(flag, value, "a positive integer");
    }
    options->limits.*field = parsed;
    return absl::OkStatus();
  };
}

Setter StringSetter(std::string ServerOptions::*field) {
  return [=](const std::string& value, ServerOptions* options) {
    options->*field = value;
    return absl::OkStatus();
  };
}

absl::Status AddLoad(const std::string& value, ServerOptions* options) {
  const size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
    return BadValue("load", value, "NAME=DIR");
  }
  options->loads.push_back({value.substr(0, eq), value.substr(eq + 1), "", ""});
  return absl::OkStatus();
}

// Every option by its name with underscores (the JSON key; the flag with dashes).
const std::map<std::string, Setter>& Setters() {
  static const auto* setters = new std::map<std::string, Setter>{
      {"model_root", StringSetter(&ServerOptions::model_root)},
      {"load", AddLoad},
      {"host", StringSetter(&ServerOptions::host)},
      {"grpc_port", IntSetter(&ServerOptions::grpc_port, 0, 65535, "grpc-port")},
      {"metrics_port", IntSetter(&ServerOptions::metrics_port, -1, 65535, "metrics-port")},
      {"ready_file", StringSetter(&ServerOptions::ready_file)},
      {"device", StringSetter(&ServerOptions::device)},
      {"threads", IntSetter(&ServerOptions::threads, 0, 1024, "threads")},
      {"memory_budget_bytes",
       IntSetter(&ServerOptions::memory_budget_bytes, 0, INT64_MAX, "memory-budget-bytes")},
      {"max_prompt_tokens", LimitSetter(&RequestLimits::max_prompt_tokens, "max-prompt-tokens")},
      {"max_decode_steps", LimitSetter(&RequestLimits::max_decode_steps, "max-decode-steps")},
      {"max_temperatures", LimitSetter(&RequestLimits::max_temperatures, "max-temperatures")},
      {"max_items", LimitSetter(&RequestLimits::max_items, "max-items")},
      {"max_streams", IntSetter(&ServerOptions::max_streams, 0, 1 << 20, "max-streams")},
      {"max_streams_per_client",
       IntSetter(&ServerOptions::max_streams_per_client, 0, 1 << 20, "max-streams-per-client")},
      {"max_request_bytes",
       IntSetter(&ServerOptions::max_request_bytes, 1024, INT32_MAX, "max-request-bytes")},
      {"tls_cert", StringSetter(&ServerOptions::tls_cert)},
      {"tls_key", StringSetter(&ServerOptions::tls_key)},
      {"tls_client_ca", StringSetter(&ServerOptions::tls_client_ca)},
      {"token", StringSetter(&ServerOptions::token)},
      {"token_file",
       [](const std::string& value, ServerOptions* options) -> absl::Status {
         PG_ASSIGN_OR_RETURN(options->token, ReadTokenFile(value));
         return absl::OkStatus();
       }},
      {"drain_seconds",
       [](const std::string& value, ServerOptions* options) -> absl::Status {
         double parsed = 0;
         if (!absl::SimpleAtod(value, &parsed) || !std::isfinite(parsed) || parsed < 0) {
           return BadValue("drain-seconds", value, "a number of seconds >= 0");
         }
         options->drain_seconds = parsed;
         return absl::OkStatus();
       }},
      {"load_threads", IntSetter(&ServerOptions::load_threads, 1, 64, "load-threads")},
  };
  return *setters;
}

absl::Status ApplyConfigLoads(const std::string& file, const nlohmann::json& loads,
                              ServerOptions* options) {
  if (!loads.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("config ", file, ": \"load\" must be an array"));
  }
  for (size_t i = 0; i < loads.size(); ++i) {
    const nlohmann::json& entry = loads[i];
    const std::string where = absl::StrCat("config ", file, ": load[", i, "]");
    if (!entry.is_object()) return absl::InvalidArgumentError(where + " must be an object");
    StartupLoad load;
    for (const auto& [key, value] : entry.items()) {
      std::string* field = key == "name"     ? &load.name
                           : key == "path"   ? &load.path
                           : key == "device" ? &load.device
                           : key == "dtype"  ? &load.dtype
                                             : nullptr;
      if (field == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": unknown key \"", key, "\" (name, path, device, dtype)"));
      }
      if (!value.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " must be a string"));
      }
      *field = value.get<std::string>();
    }
    if (load.name.empty() || load.path.empty()) {
      return absl::InvalidArgumentError(where + " needs \"name\" and \"path\"");
    }
    options->loads.push_back(std::move(load));
  }
  return absl::OkStatus();
}

absl::Status ApplyConfigFile(const std::string& file, ServerOptions* options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read config file ", file));
  std::ostringstream text;
  text << in.rdbuf();
  const nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("config ", file, " is not a JSON object"));
  }
  for (const auto& [key, value] : doc.items()) {
    if (key == "load") {
      PG_RETURN_IF_ERROR(ApplyConfigLoads(file, value, options));
      continue;
    }
    auto it = Setters().find(key);
    if (it == Setters().end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config ", file, ": unknown key \"", key, "\""));
    }
    if (!value.is_string() && !value.is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config ", file, ": \"", key, "\" must be a string or a number"));
    }
    const std::string as_text = value.is_string() ? value.get<std::string>() : value.dump();
    absl::Status status = it->second(as_text, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("config ", file, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const ServerOptions& options) {
  if (options.model_root.empty()) {
    return absl::InvalidArgumentError("--model-root DIR is required");
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!options.tls_client_ca.empty() && options.tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (options.host.empty()) return absl::InvalidArgumentError("--host is empty");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerOptions> ParseServerFlags(int argc, char** argv) {
  struct Flag {
    std::string name;  // with underscores
    std::string value;
  };
  std::vector<Flag> flags;
  ServerOptions options;
  bool have_token_flag = false, have_token_file = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      return options;
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name(arg), value;
    const size_t eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    name = absl::StrReplaceAll(name, {{"-", "_"}});
    if (name != "config" && Setters().count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", absl::StrReplaceAll(name, {{"_", "-"}})));
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", absl::StrReplaceAll(name, {{"_", "-"}}), " needs a value"));
      }
      value = argv[++i];
    }
    have_token_flag |= name == "token";
    have_token_file |= name == "token_file";
    flags.push_back({name, value});
  }
  if (have_token_flag && have_token_file) {
    return absl::InvalidArgumentError("give --token or --token-file, not both");
  }
  for (const Flag& flag : flags) {
    if (flag.name == "config") PG_RETURN_IF_ERROR(ApplyConfigFile(flag.value, &options));
  }
  for (const Flag& flag : flags) {
    if (flag.name != "config") PG_RETURN_IF_ERROR(Setters().at(flag.name)(flag.value, &options));
  }
  PG_RETURN_IF_ERROR(Validate(options));
  return options;
}

std::string ServerUsage() {
  return R"(prunegate-server: keeps a baseline LLM and its candidates resident and serves
prunegate.v1.Prunegate (gRPC), grpc.health.v1.Health, reflection and Prometheus /metrics.

  prunegate-server --model-root DIR [--load NAME=DIR]... [--config FILE] [--host HOST]
      [--grpc-port N] [--metrics-port N|-1] [--ready-file F] [--device D] [--threads N]
      [--memory-budget-bytes N] [--max-prompt-tokens N] [--max-decode-steps N]
      [--max-temperatures N] [--max-items N] [--max-streams N] [--max-streams-per-client N]
      [--max-request-bytes N] [--tls-cert F --tls-key F [--tls-client-ca F]]
      [--token T | --token-file F] [--drain-seconds S] [--load-threads N]

Ports 0 pick a free port (see --ready-file). SIGTERM/SIGINT drain and exit 0.
)";
}

}  // namespace prunegate::service
