// `prunegate gate`'s verdict output and exit codes, the connection options, and RunCli's usage
// and error paths (no server: a refused port stands in for an unreachable one).
#include "client/cli.h"

#include <sstream>

#include "client/connection.h"
#include "client/exit_codes.h"
#include "client/gate_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"

namespace prunegate::client {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

v1::Assessment SampleAssessment() {
  v1::Assessment assessment;
  assessment.set_task(v1::GENERATION);
  assessment.set_overall(v1::UNSAFE);
  assessment.set_json(R"({"task":"generation","verdicts":[]})");
  v1::TemperatureVerdict* cold = assessment.add_verdicts();
  cold->set_temperature(0.2);
  cold->set_verdict(v1::UNSAFE);
  cold->set_rule("generation.divergence_rate");
  cold->set_reason("UNSAFE: generation.divergence_rate 0.62 > 0.30 at T=0.2");
  v1::Check* check = cold->add_checks();
  check->set_rule("generation.divergence_rate");
  check->set_description("31 of 50 prompts diverged");
  check->set_value(0.62);
  check->set_risky(0.1);
  check->set_unsafe(0.3);
  check->set_level(v1::UNSAFE);
  v1::TemperatureVerdict* warm = assessment.add_verdicts();
  warm->set_temperature(1.0);
  warm->set_verdict(v1::RISKY);
  warm->set_reason("RISKY: ...");
  return assessment;
}

TEST(GateTest, TextShowsVerdictRuleChecksAndReason) {
  v1::AssessRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("heavy");
  const std::string text = AssessmentText(SampleAssessment(), request);
  EXPECT_THAT(text, HasSubstr("candidate heavy vs baseline tinykb, task generation"));
  EXPECT_THAT(text, HasSubstr("T=0.2  UNSAFE  (rule generation.divergence_rate)"));
  EXPECT_THAT(text, HasSubstr("  UNSAFE: generation.divergence_rate 0.62 > 0.30 at T=0.2\n"));
  EXPECT_THAT(text, HasSubstr("value  risky  unsafe  level"));
  EXPECT_THAT(text,
              HasSubstr("generation.divergence_rate   0.62    0.1     0.3  UNSAFE  31 of 50"));
  EXPECT_THAT(text, HasSubstr("T=1  RISKY\n"));
  EXPECT_THAT(text, HasSubstr("overall: UNSAFE"));
}

TEST(GateTest, JsonLineCarriesVerdictsChecksAndEvidence) {
  v1::AssessRequest request;
  request.set_baseline("tinykb");
  request.set_candidate("heavy");
  const std::string line = AssessmentJsonLine(SampleAssessment(), request);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json json = nlohmann::json::parse(line);
  EXPECT_EQ(json["task"], "generation");
  EXPECT_EQ(json["overall"], "UNSAFE");
  EXPECT_EQ(json["exit_code"], 1);
  ASSERT_EQ(json["temperatures"].size(), 2u);
  EXPECT_EQ(json["temperatures"][0]["verdict"], "UNSAFE");
  EXPECT_EQ(json["temperatures"][0]["rule"], "generation.divergence_rate");
  EXPECT_DOUBLE_EQ(json["temperatures"][0]["checks"][0]["unsafe"].get<double>(), 0.3);
  EXPECT_EQ(json["temperatures"][1]["verdict"], "RISKY");
  EXPECT_EQ(json["evidence"]["task"], "generation");  // parsed, not a string
}

TEST(ExitCodesTest, VerdictsAndErrors) {
  EXPECT_EQ(ExitCodeForVerdict(v1::SAFE), 0);
  EXPECT_EQ(ExitCodeForVerdict(v1::UNSAFE), 1);
  EXPECT_EQ(ExitCodeForVerdict(v1::RISKY), 2);
  EXPECT_EQ(ExitCodeForVerdict(v1::VERDICT_UNSPECIFIED), 3);
  v1::Assessment assessment;
  assessment.set_overall(v1::SAFE);
  assessment.add_verdicts()->set_verdict(v1::RISKY);
  EXPECT_EQ(WorstVerdict(assessment), v1::RISKY);
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  std::ostringstream err;
  EXPECT_EQ(ReportRpcError(grpc::Status(grpc::StatusCode::NOT_FOUND, "no model x"), err), 3);
  EXPECT_EQ(err.str(), "prunegate: NOT_FOUND: no model x\n");
  // A token refusal says how to pass the token; other PERMISSION_DENIED errors do not.
  std::ostringstream token;
  EXPECT_EQ(ReportRpcError(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "wrong bearer token"),
                           token),
            3);
  EXPECT_EQ(token.str(),
            "prunegate: PERMISSION_DENIED: wrong bearer token\n"
            "prunegate: the server wants its bearer token: pass --token T or set "
            "PRUNEGATE_TOKEN\n");
  std::ostringstream path;
  ReportRpcError(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "outside the model root"), path);
  EXPECT_EQ(path.str(), "prunegate: PERMISSION_DENIED: outside the model root\n");
}

TEST(ConnectionTest, FlagsWinOverEnvironmentOverDefault) {
  auto env = [](const char* name) -> const char* {
    if (std::string(name) == "PRUNEGATE_SERVER") return "envhost:1";
    if (std::string(name) == "PRUNEGATE_TOKEN") return "envtoken";
    return nullptr;
  };
  ConnectionOptions from_env;
  ASSERT_THAT(ResolveConnectionOptions(env, &from_env), IsOk());
  EXPECT_EQ(from_env.server, "envhost:1");
  EXPECT_EQ(from_env.token, "envtoken");
  ConnectionOptions flags;
  flags.server = "flaghost:2";
  flags.token = "flagtoken";
  ASSERT_THAT(ResolveConnectionOptions(env, &flags), IsOk());
  EXPECT_EQ(flags.server, "flaghost:2");
  EXPECT_EQ(flags.token, "flagtoken");
  ConnectionOptions none;
  ASSERT_THAT(ResolveConnectionOptions([](const char*) -> const char* { return nullptr; }, &none),
              IsOk());
  EXPECT_EQ(none.server, "127.0.0.1:50051");
  ConnectionOptions half_tls;
  half_tls.tls_cert = "c.pem";
  EXPECT_THAT(ResolveConnectionOptions(env, &half_tls),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ConnectionOptions tls;
  tls.tls_ca = "/nonexistent/ca.pem";
  EXPECT_THAT(MakeChannel(tls), StatusIs(absl::StatusCode::kNotFound, HasSubstr("ca.pem")));
}

struct CliRun {
  int code;
  std::string out, err;
};

CliRun RunInProcess(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  CommandEnv env;
  env.out = &out;
  env.err = &err;
  env.getenv = [](const char*) -> const char* { return nullptr; };
  const int code = RunCli(args, env);
  return {code, out.str(), err.str()};
}

TEST(RunCliTest, UsageErrorsExit3) {
  CliRun none = RunInProcess({});
  EXPECT_EQ(none.code, 3);
  EXPECT_THAT(none.err, HasSubstr("no command given"));
  EXPECT_THAT(none.err, HasSubstr("usage: prunegate"));
  EXPECT_EQ(RunInProcess({"frobnicate"}).code, 3);
  CliRun sub = RunInProcess({"models", "frob"});
  EXPECT_EQ(sub.code, 3);
  EXPECT_THAT(sub.err, HasSubstr("unknown command 'models frob'"));
  CliRun group = RunInProcess({"models"});
  EXPECT_EQ(group.code, 3);
  EXPECT_THAT(group.err, HasSubstr("models needs a subcommand"));
  CliRun flag = RunInProcess({"gate", "--baseline", "a", "--frob"});
  EXPECT_EQ(flag.code, 3);
  EXPECT_THAT(flag.err, HasSubstr("unknown flag --frob"));
  EXPECT_THAT(flag.err, HasSubstr("usage: prunegate gate"));
  CliRun global = RunInProcess({"--frob", "models", "list"});
  EXPECT_EQ(global.code, 3);
  CliRun missing = RunInProcess({"gate", "--baseline", "a", "--candidate", "b"});
  EXPECT_EQ(missing.code, 3);
  EXPECT_THAT(missing.err, HasSubstr("missing --task"));
  CliRun extra = RunInProcess({"models", "list", "stray"});
  EXPECT_EQ(extra.code, 3);
  EXPECT_THAT(extra.err, HasSubstr("unexpected argument 'stray'"));
}

TEST(RunCliTest, HelpGoesToStdoutAndExits0) {
  CliRun main = RunInProcess({"--help"});
  EXPECT_EQ(main.code, 0);
  EXPECT_THAT(main.out, HasSubstr("models derive"));
  EXPECT_THAT(main.out, HasSubstr("exit codes"));
  EXPECT_THAT(main.err, IsEmpty());
  EXPECT_EQ(RunInProcess({"models", "--help"}).code, 0);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"models", "list", "--help"},
                                             {"models", "load", "--help"},
                                             {"models", "derive", "--help"},
                                             {"models", "unload", "--help"},
                                             {"probe-layers", "--help"},
                                             {"trace", "--help"},
                                             {"choices", "--help"},
                                             {"embeddings", "--help"},
                                             {"kl", "--help"},
                                             {"gate", "-h"}}) {
    CliRun help = RunInProcess(args);
    EXPECT_EQ(help.code, 0) << args[0];
    EXPECT_THAT(help.out, HasSubstr("usage: prunegate " + args[0])) << args[0];
    EXPECT_THAT(help.out, HasSubstr("global flags:")) << args[0];
  }
}

TEST(RunCliTest, ConnectionFailureExits3WithTheStatusCode) {
  // Port 1 on the loopback: nothing listens there.
  CliRun down = RunInProcess({"--server", "127.0.0.1:1", "--timeout", "10", "models", "list"});
  EXPECT_EQ(down.code, 3);
  EXPECT_THAT(down.err, HasSubstr("prunegate: UNAVAILABLE: "));
  EXPECT_THAT(down.out, IsEmpty());
  // Global flags are accepted after the command too.
  CliRun after = RunInProcess({"gate", "--baseline", "a", "--candidate", "b", "--task",
                               "generation", "--server", "127.0.0.1:1"});
  EXPECT_EQ(after.code, 3);
  EXPECT_THAT(after.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(after.err, Not(HasSubstr("usage")));
}

}  // namespace
}  // namespace prunegate::client
