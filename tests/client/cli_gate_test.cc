// `prunegate gate` end to end: the real binary against the real server with the shipped model,
// for generation, multiple choice and retrieval, with the default policy and --policy files. The
// exit code is the verdict (0 SAFE, 1 UNSAFE, 2 RISKY, 3 error); --json puts one object on the
// last line of stdout.
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_testing.h"
#include "tests/testing/paths.h"

namespace prunegate::testing {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A few held-out prompts of the shipped model, so that a gate stays quick.
std::string GenerationTasks() {
  static const std::string path = [] {
    const std::string file = MakeTempDir("prunegate-gate-it") + "/gen.jsonl";
    std::ofstream out(file);
    const char* prompts[] = {"Q: Where is the home of Kimpo? A:",
                             "Q: What colour does Kimpo like best of all? A:",
                             "Q: How much is 71 + 25? A:",
                             "Q: What do you get when you add 47 and 80? A:",
                             "Tom was a little boy who liked to play. One cold evening, Tom got a "
                             "new shiny stone.",
                             "Q: How much is 21 + 88? A:"};
    int i = 0;
    for (const char* prompt : prompts) {
      out << nlohmann::json{{"type", "generation"},
                            {"id", "g" + std::to_string(i++)},
                            {"prompt", prompt},
                            {"scoring", "baseline_agreement"}}
                 .dump()
          << "\n";
    }
    return file;
  }();
  return path;
}

class CliGateTest : public TinykbCliTest {
 protected:
  static CliResult Gate(const std::string& candidate, const std::string& task,
                        std::vector<std::string> extra) {
    std::vector<std::string> args = {"gate",    "--baseline", "tinykb", "--candidate",
                                     candidate, "--task",     task,     "--temperature",
                                     "0.2,1.0", "--steps",    "12"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args);
  }
};

TEST_F(CliGateTest, IdenticalCandidateIsSafe) {
  const CliResult result = Gate("tinykb", "generation", {"--tasks", GenerationTasks()});
  ASSERT_EQ(result.exit_code, 0) << result.Dump();
  EXPECT_THAT(result.out, AllOf(HasSubstr("T=0.2  SAFE"), HasSubstr("T=1  SAFE"),
                                HasSubstr("overall: SAFE"), HasSubstr("generation.")));
  // stderr is not a terminal here: one line per stage and temperature, no bar.
  EXPECT_THAT(result.err, AllOf(HasSubstr("prunegate: generation T=0.2 (12)\n"),
                                HasSubstr("prunegate: generation T=1 (12)\n")));
  EXPECT_THAT(result.err, Not(HasSubstr("\r")));
}

TEST_F(CliGateTest, HeavyDropIsUnsafeForGeneration) {
  const CliResult derive = Cli({"models", "derive", "--baseline", "tinykb", "--name", "heavy",
                                "--recipe", "drop-block", "--count", "4"});
  ASSERT_EQ(derive.exit_code, 0) << derive.Dump();

  const CliResult text = Gate("heavy", "generation", {"--tasks", GenerationTasks()});
  EXPECT_EQ(text.exit_code, 1) << text.Dump();
  EXPECT_THAT(text.out, AllOf(HasSubstr("UNSAFE  (rule generation."), HasSubstr("overall: UNSAFE"),
                              HasSubstr("value"), HasSubstr("risky"), HasSubstr("unsafe")));

  const CliResult json = Gate("heavy", "generation", {"--tasks", GenerationTasks(), "--json"});
  EXPECT_EQ(json.exit_code, 1) << json.Dump();
  const nlohmann::json report = nlohmann::json::parse(json.LastLine());
  EXPECT_EQ(report["task"], "generation");
  EXPECT_EQ(report["overall"], "UNSAFE");
  EXPECT_EQ(report["exit_code"], 1);
  ASSERT_EQ(report["temperatures"].size(), 2u);
  EXPECT_DOUBLE_EQ(report["temperatures"][0]["temperature"].get<double>(), 0.2);
  EXPECT_EQ(report["temperatures"][0]["verdict"], "UNSAFE");
  EXPECT_FALSE(report["temperatures"][0]["rule"].get<std::string>().empty());
  EXPECT_FALSE(report["temperatures"][0]["checks"].empty());
  EXPECT_TRUE(report["evidence"].is_object());

  // Multiple choice on the same candidate: some verdict, and the exit code says which.
  const CliResult mc = Gate("heavy", "multiple-choice", {"--json"});
  ASSERT_THAT(mc.exit_code, AnyOf(0, 1, 2)) << mc.Dump();
  const nlohmann::json mc_report = nlohmann::json::parse(mc.LastLine());
  EXPECT_EQ(mc_report["task"], "multiple-choice");
  EXPECT_EQ(mc_report["exit_code"], mc.exit_code);
}

// The value of `rule` at the first temperature of a `gate --json` report.
double CheckValue(const nlohmann::json& report, const std::string& rule) {
  for (const nlohmann::json& check : report["temperatures"][0]["checks"]) {
    if (check["rule"] == rule) return check["value"].get<double>();
  }
  ADD_FAILURE() << rule << " is not in " << report.dump();
  return 0;
}

std::string PolicyFile(const std::string& name, const nlohmann::json& policy) {
  static const std::string dir = MakeTempDir("prunegate-gate-policy");
  const std::string path = dir + "/" + name;
  std::ofstream(path) << policy.dump(2) << "\n";
  return path;
}

// `gate --task retrieval` end to end on a light candidate (one MLP sublayer dropped) with the
// server's default retrieval sets (tinykb's tasks/), then `--policy` files built around the
// measured embedding drift: a strict one turns the SAFE verdict UNSAFE, one with the value
// between its thresholds makes it RISKY (exit code 2).
TEST_F(CliGateTest, RetrievalVerdictFollowsThePolicyFile) {
  const CliResult derive = Cli({"models", "derive", "--baseline", "tinykb", "--name", "light",
                                "--recipe", "drop-mlp", "--layers", "1"});
  ASSERT_EQ(derive.exit_code, 0) << derive.Dump();
  const CliResult text = Gate("light", "retrieval", {});
  ASSERT_EQ(text.exit_code, 0) << text.Dump();
  EXPECT_THAT(text.out, AllOf(HasSubstr("task retrieval"), HasSubstr("T=0.2  SAFE"),
                              HasSubstr("T=1  SAFE"), HasSubstr("retrieval.recall_drop"),
                              HasSubstr("retrieval.cosine_loss"), HasSubstr("overall: SAFE")));
  EXPECT_THAT(text.err, HasSubstr("prunegate: retrieval ("));

  const CliResult json = Gate("light", "retrieval", {"--json"});
  ASSERT_EQ(json.exit_code, 0) << json.Dump();
  const nlohmann::json report = nlohmann::json::parse(json.LastLine());
  EXPECT_EQ(report["task"], "retrieval");
  EXPECT_EQ(report["overall"], "SAFE");
  // Dropping a sublayer turns the embeddings a little, well within the default thresholds.
  const double cosine_loss = CheckValue(report, "retrieval.cosine_loss");
  ASSERT_GT(cosine_loss, 0);

  const CliResult strict =
      Gate("light", "retrieval",
           {"--json", "--policy",
            PolicyFile(
                "strict.json",
                {{"retrieval",
                  {{"cosine_loss", {{"risky", cosine_loss / 4}, {"unsafe", cosine_loss / 2}}}}}})});
  EXPECT_EQ(strict.exit_code, 1) << strict.Dump();
  const nlohmann::json unsafe = nlohmann::json::parse(strict.LastLine());
  EXPECT_EQ(unsafe["overall"], "UNSAFE");
  EXPECT_EQ(unsafe["temperatures"][0]["rule"], "retrieval.cosine_loss");
  EXPECT_DOUBLE_EQ(CheckValue(unsafe, "retrieval.cosine_loss"), cosine_loss);  // same evidence

  const std::string between =
      PolicyFile("between.json",
                 {{"retrieval",
                   {{"cosine_loss", {{"risky", cosine_loss / 2}, {"unsafe", cosine_loss * 2}}}}}});
  const CliResult risky = Gate("light", "retrieval", {"--policy", between});
  EXPECT_EQ(risky.exit_code, 2) << risky.Dump();
  EXPECT_THAT(risky.out, AllOf(HasSubstr("T=0.2  RISKY  (rule retrieval.cosine_loss)"),
                               HasSubstr("overall: RISKY")));
  const CliResult risky_json = Gate("light", "retrieval", {"--policy", between, "--json"});
  EXPECT_EQ(risky_json.exit_code, 2) << risky_json.Dump();
  const nlohmann::json risky_report = nlohmann::json::parse(risky_json.LastLine());
  EXPECT_EQ(risky_report["overall"], "RISKY");
  EXPECT_EQ(risky_report["exit_code"], 2);

  const CliResult bad = Gate(
      "light", "retrieval", {"--policy", PolicyFile("bad.json", {{"retrieval", {{"cosine", 1}}}})});
  EXPECT_EQ(bad.exit_code, 3) << bad.Dump();
  EXPECT_THAT(bad.err, AllOf(HasSubstr("INVALID_ARGUMENT"), HasSubstr("unknown key")));
}

TEST_F(CliGateTest, ErrorsExit3) {
  const CliResult unknown = Gate("nope", "generation", {});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.Dump();
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
  const CliResult bad_temperature = Cli({"gate", "--baseline", "tinykb", "--candidate", "tinykb",
                                         "--task", "generation", "--temperature", "0"});
  EXPECT_EQ(bad_temperature.exit_code, 3) << bad_temperature.Dump();
  EXPECT_THAT(bad_temperature.err, HasSubstr("INVALID_ARGUMENT"));
}

}  // namespace
}  // namespace prunegate::testing
