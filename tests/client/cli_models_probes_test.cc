// The real prunegate binary against the real server with the shipped model: the registry
// commands, every probe command, the error paths (wrong token, unknown model), and the TLS flags
// against TLS and mTLS servers.
#include <algorithm>
#include <fstream>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/cli_testing.h"
#include "tests/testing/paths.h"
#include "tests/testing/tls_certificates.h"

namespace prunegate::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string TempFile(const std::string& name, const std::string& text) {
  static const std::string dir = MakeTempDir("prunegate-cli-it");
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class CliModelsProbesTest : public TinykbCliTest {};

TEST_F(CliModelsProbesTest, ModelsListShowsTinykbReady) {
  const CliResult table = Cli({"models", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.Dump();
  EXPECT_THAT(table.out, HasSubstr("MB resident"));
  EXPECT_THAT(table.out,
              AllOf(HasSubstr("tinykb"), HasSubstr("READY"), HasSubstr("LlamaForCausalLM")));
  const CliResult json = Cli({"models", "list", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.Dump();
  const nlohmann::json parsed = nlohmann::json::parse(json.LastLine());
  bool found = false;
  for (const nlohmann::json& model : parsed["models"]) {
    if (model["name"] == "tinykb") {
      found = true;
      EXPECT_EQ(model["state"], "READY");
      EXPECT_EQ(model["num_layers"], 6);
    }
  }
  EXPECT_TRUE(found) << json.out;
}

TEST_F(CliModelsProbesTest, DeriveByCountAndByLayersThenUnload) {
  const CliResult by_count = Cli({"models", "derive", "--baseline", "tinykb", "--name", "by-count",
                                  "--recipe", "drop-mlp", "--count", "2"});
  ASSERT_EQ(by_count.exit_code, 0) << by_count.Dump();
  EXPECT_THAT(by_count.out, AllOf(HasSubstr("by-count"), HasSubstr("READY"),
                                  HasSubstr("importance"), HasSubstr("similarity")));

  const CliResult by_layers =
      Cli({"models", "derive", "--baseline", "tinykb", "--name", "by-layers", "--recipe",
           "drop-attention", "--layers", "2,3", "--json"});
  ASSERT_EQ(by_layers.exit_code, 0) << by_layers.Dump();
  const nlohmann::json info = nlohmann::json::parse(by_layers.LastLine());
  EXPECT_EQ(info["baseline"], "tinykb");
  EXPECT_EQ(info["dropped_layers"], nlohmann::json::array({2, 3}));
  EXPECT_GT(std::stoll(info["bytes_shared"].get<std::string>()), 0);  // int64 → JSON string

  const CliResult list = Cli({"models", "list"});
  EXPECT_THAT(list.out, AllOf(HasSubstr("by-count"), HasSubstr("by-layers"),
                              HasSubstr("tinykb: drop-attention")));

  const CliResult unload = Cli({"models", "unload", "--name", "by-layers"});
  ASSERT_EQ(unload.exit_code, 0) << unload.Dump();
  EXPECT_THAT(Cli({"models", "list"}).out, Not(HasSubstr("by-layers")));
}

TEST_F(CliModelsProbesTest, ModelsLoadByNameAndPath) {
  const CliResult load = Cli({"models", "load", "--name", "second", "--path", kTinykb});
  ASSERT_EQ(load.exit_code, 0) << load.Dump();
  EXPECT_THAT(load.out, AllOf(HasSubstr("second"), HasSubstr("READY"),
                              HasSubstr("LlamaForCausalLM"), HasSubstr(kTinykb)));
  const CliResult json = Cli({"models", "load", "--name", "third", "--path", kTinykb, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.Dump();
  const nlohmann::json info = nlohmann::json::parse(json.LastLine());
  EXPECT_EQ(info["name"], "third");
  EXPECT_EQ(info["state"], "READY");
  EXPECT_EQ(info["num_layers"], 6);
  EXPECT_THAT(Cli({"models", "list"}).out, AllOf(HasSubstr("second"), HasSubstr("third")));

  // The server's refusals exit 3 with its status.
  const CliResult outside = Cli({"models", "load", "--name", "escape", "--path", "/etc"});
  EXPECT_EQ(outside.exit_code, 3) << outside.Dump();
  EXPECT_THAT(outside.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(outside.err, Not(HasSubstr("--token")));  // not a token problem
  const CliResult missing = Cli({"models", "load", "--name", "gone", "--path", "no-such-dir"});
  EXPECT_EQ(missing.exit_code, 3) << missing.Dump();
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));
  const CliResult taken = Cli({"models", "load", "--name", "second", "--path", kTinykb});
  EXPECT_EQ(taken.exit_code, 3) << taken.Dump();
  const CliResult no_path = Cli({"models", "load", "--name", "x"});
  EXPECT_EQ(no_path.exit_code, 3) << no_path.Dump();
  EXPECT_THAT(no_path.err, HasSubstr("--path"));

  EXPECT_EQ(Cli({"models", "unload", "--name", "second"}).exit_code, 0);
  EXPECT_EQ(Cli({"models", "unload", "--name", "third"}).exit_code, 0);
}

TEST_F(CliModelsProbesTest, UnknownModelIsNotFound) {
  const CliResult result = Cli({"probe-layers", "--baseline", "tinykb", "--candidate", "nope",
                                "--prompt", "Q: Where does Kimpo live? A:"});
  EXPECT_EQ(result.exit_code, 3) << result.Dump();
  EXPECT_THAT(result.err, HasSubstr("NOT_FOUND"));
  const CliResult unload = Cli({"models", "unload", "--name", "nope"});
  EXPECT_EQ(unload.exit_code, 3) << unload.Dump();
  EXPECT_THAT(unload.err, HasSubstr("NOT_FOUND"));
}

TEST_F(CliModelsProbesTest, BadDeriveIsRejectedByTheServer) {
  const CliResult result = Cli({"models", "derive", "--baseline", "tinykb", "--name", "bad",
                                "--recipe", "drop-mlp", "--layers", "99"});
  EXPECT_EQ(result.exit_code, 3) << result.Dump();
  EXPECT_THAT(result.err, HasSubstr("INVALID_ARGUMENT"));
}

TEST_F(CliModelsProbesTest, ProbesProduceTheirOutput) {
  ASSERT_EQ(Cli({"models", "derive", "--baseline", "tinykb", "--name", "probe-c", "--recipe",
                 "drop-mlp", "--layers", "4"})
                .exit_code,
            0);
  const std::vector<std::string> pair = {"--baseline", "tinykb", "--candidate", "probe-c"};
  auto with_pair = [&](std::vector<std::string> command, std::vector<std::string> rest) {
    command.insert(command.end(), pair.begin(), pair.end());
    command.insert(command.end(), rest.begin(), rest.end());
    return Cli(command);
  };

  // probe-layers: a header and one row per (layer, sublayer) at the last position.
  const CliResult layers = with_pair(
      {"probe-layers"}, {"--prompt", "Q: Where does Kimpo live? A:", "--temperature", "0.7,1.0"});
  ASSERT_EQ(layers.exit_code, 0) << layers.Dump();
  const std::vector<std::string> rows = Lines(layers.out);
  ASSERT_EQ(rows.size(), 1u + 12u) << layers.out;
  EXPECT_THAT(rows[0], AllOf(HasSubstr("KL@0.7"), HasSubstr("pred@1"), HasSubstr("top1")));
  EXPECT_THAT(layers.out, HasSubstr("dropped"));
  const CliResult layers_json =
      with_pair({"probe-layers"}, {"--ids", "1,2,3", "--mode", "propagated", "--json"});
  ASSERT_EQ(layers_json.exit_code, 0) << layers_json.Dump();
  for (const std::string& line : Lines(layers_json.out)) {
    const nlohmann::json record = nlohmann::json::parse(line);
    EXPECT_TRUE(record.contains("layer"));
    EXPECT_EQ(record["has_propagated"], true);
  }

  // trace: a row per step, then the summary.
  const CliResult trace = with_pair(
      {"trace"}, {"--prompt", "Q: Where does Kimpo live? A:", "--steps", "6", "--ignore-eos"});
  ASSERT_EQ(trace.exit_code, 0) << trace.Dump();
  EXPECT_THAT(trace.out, AllOf(HasSubstr("first divergence"), HasSubstr("baseline:"),
                               HasSubstr("candidate:"), HasSubstr("agree")));
  const CliResult trace_json =
      with_pair({"trace"}, {"--prompt", "Q: Where does Kimpo live? A:", "--steps", "3", "--json"});
  ASSERT_EQ(trace_json.exit_code, 0) << trace_json.Dump();
  EXPECT_TRUE(nlohmann::json::parse(trace_json.LastLine()).contains("summary"));

  // choices: a row per item, then accuracies.
  const std::string items = TempFile(
      "mc.jsonl",
      R"({"type":"multiple_choice","id":"kmc-1","prompt":"Q: Where is the home of Kimpo?\nA. the blue tent\nB. the bakery\nC. the stone cottage\nD. the hill farm\nAnswer:","options":[" A"," B"," C"," D"],"label":3}
{"type":"multiple_choice","id":"kmc-2","prompt":"Q: What colour does Kimpo like best of all?\nA. brown\nB. green\nC. orange\nD. purple\nAnswer:","options":[" A"," B"," C"," D"],"label":1}
)");
  const CliResult choices = with_pair({"choices"}, {"--items", items, "--temperature", "0.5,1"});
  ASSERT_EQ(choices.exit_code, 0) << choices.Dump();
  EXPECT_THAT(choices.out, AllOf(HasSubstr("kmc-1"), HasSubstr("kmc-2"), HasSubstr("KL@0.5"),
                                 HasSubstr("accuracy: baseline")));

  // embeddings: a cosine per text, then the mean.
  const std::string texts =
      TempFile("texts.txt", "Kimpo lives in the hill farm.\nTom was a little boy.\n");
  const CliResult embeddings = with_pair({"embeddings"}, {"--texts", texts});
  ASSERT_EQ(embeddings.exit_code, 0) << embeddings.Dump();
  EXPECT_THAT(embeddings.out, AllOf(HasSubstr("cosine"), HasSubstr("mean cosine")));

  // kl: the llama.cpp-style block.
  const CliResult kl =
      with_pair({"kl"}, {"--text",
                         "Tom was a little boy who liked to play. One day, Tom got a new red "
                         "ball. Tom took it to the park to play with his friend.",
                         "--context", "16"});
  ASSERT_EQ(kl.exit_code, 0) << kl.Dump();
  EXPECT_THAT(kl.out, HasSubstr("KL divergence"));
  const CliResult kl_json = with_pair({"kl"}, {"--text", "Tom was a little boy.", "--json"});
  ASSERT_EQ(kl_json.exit_code, 0) << kl_json.Dump();
  EXPECT_TRUE(nlohmann::json::parse(kl_json.LastLine()).contains("kl"));
}

TEST_F(CliModelsProbesTest, RankLayersPrintsTheRankingAsTextAndJson) {
  const std::vector<std::string> command = {"rank-layers",
                                            "--baseline",
                                            "tinykb",
                                            "--recipe",
                                            "drop-mlp",
                                            "--prompt",
                                            "Q: Where does Kimpo live? A:",
                                            "--prompt",
                                            "Q: What is 23 + 45? A:"};
  std::vector<std::string> text_command = command;
  text_command.insert(text_command.end(), {"--temperature", "1,0.5"});
  const CliResult text = Cli(text_command);
  ASSERT_EQ(text.exit_code, 0) << text.Dump();
  EXPECT_THAT(text.out, AllOf(HasSubstr("baseline tinykb, drop-mlp, 2 prompts"),
                              HasSubstr("least to most damaging by the measured propagated KL"),
                              HasSubstr("imp rank"), HasSubstr("out KL@0.5"),
                              HasSubstr("most similar first (importance): ")));
  // Progress went to stderr (not a terminal: one line per stage).
  EXPECT_THAT(text.err,
              AllOf(HasSubstr("prunegate: importance"), HasSubstr("prunegate: probe (2)")));
  const std::vector<std::string> lines = Lines(text.out);
  const auto header = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
    return line.rfind("rank  layer", 0) == 0;
  });
  ASSERT_NE(header, lines.end()) << text.out;
  ASSERT_GE(lines.end() - header, 7) << text.out;
  for (int rank = 1; rank <= 6; ++rank) {
    const std::vector<std::string> cells = absl::StrSplit(*(header + rank), ' ', absl::SkipEmpty());
    ASSERT_FALSE(cells.empty());
    EXPECT_EQ(cells[0], std::to_string(rank)) << *(header + rank);
  }

  std::vector<std::string> json_command = command;
  json_command.push_back("--json");
  const CliResult json = Cli(json_command);
  ASSERT_EQ(json.exit_code, 0) << json.Dump();
  const nlohmann::json ranking = nlohmann::json::parse(json.LastLine());
  EXPECT_EQ(ranking["family"], "DROP_MLP");
  ASSERT_EQ(ranking["layers"].size(), 6u);
  EXPECT_EQ(ranking["by_importance"].size(), 6u);
  double previous = -1;
  for (size_t i = 0; i < ranking["layers"].size(); ++i) {
    const nlohmann::json& row = ranking["layers"][i];
    EXPECT_EQ(row["damage_rank"], static_cast<int>(i) + 1);
    const double kl = row["temperatures"][0]["propagated_kl"].get<double>();
    EXPECT_GE(kl, previous);
    previous = kl;
  }

  const CliResult block = Cli({"rank-layers", "--baseline", "tinykb", "--recipe", "drop-block"});
  EXPECT_EQ(block.exit_code, 3) << block.Dump();
  EXPECT_THAT(block.err, HasSubstr("drop-attention or drop-mlp"));
  const CliResult unknown = Cli({"rank-layers", "--baseline", "nope", "--recipe", "drop-mlp"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.Dump();
  EXPECT_THAT(unknown.err, HasSubstr("NOT_FOUND"));
}

TEST(CliAuthTest, MissingOrWrongTokenIsPermissionDeniedAndExits3) {
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start({"--model-root", SourceDir(), "--token", "s3cret"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  const CliResult wrong = RunPrunegate({"--server", address, "--token", "nope", "models", "list"});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.Dump();
  EXPECT_THAT(wrong.err, HasSubstr("prunegate: PERMISSION_DENIED: wrong bearer token\n"));
  EXPECT_THAT(wrong.err, HasSubstr("pass --token T or set PRUNEGATE_TOKEN"));
  EXPECT_THAT(wrong.out, IsEmpty());
  const CliResult missing = RunPrunegate({"--server", address, "models", "list"});
  EXPECT_EQ(missing.exit_code, 3) << missing.Dump();
  EXPECT_THAT(missing.err, HasSubstr("prunegate: PERMISSION_DENIED: missing bearer token"));
  EXPECT_THAT(missing.err, HasSubstr("pass --token T or set PRUNEGATE_TOKEN"));
  const CliResult right =
      RunPrunegate({"models", "list", "--server", address, "--token", "s3cret"});
  EXPECT_EQ(right.exit_code, 0) << right.Dump();
}

// --tls-ca / --tls-cert / --tls-key against a TLS server and an mTLS server (certificates from
// tests/testing/tls_certificates.h).
class CliTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = TestCertificates();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }
  std::string File(const std::string& name) const { return dir_ + "/" + name; }

  // `prunegate --server <address> --timeout 30 <tls...> models list`.
  CliResult List(const ServerProcess& server, const std::vector<std::string>& tls) const {
    std::vector<std::string> args = {"--server", server.address(), "--timeout", "30"};
    args.insert(args.end(), tls.begin(), tls.end());
    args.insert(args.end(), {"models", "list"});
    return RunPrunegate(args);
  }

  std::string dir_;
};

TEST_F(CliTlsTest, ServerCertificate) {
  auto server = ServerProcess::Start({"--model-root", SourceDir(), "--tls-cert", File("server.crt"),
                                      "--tls-key", File("server.key")});
  ASSERT_TRUE(server.ok()) << server.status();
  const CliResult ok = List(**server, {"--tls-ca", File("ca.crt")});
  EXPECT_EQ(ok.exit_code, 0) << ok.Dump();
  EXPECT_THAT(ok.out, HasSubstr("MB resident"));
  const CliResult untrusted = List(**server, {"--tls-ca", File("rogue-ca.crt")});
  EXPECT_EQ(untrusted.exit_code, 3) << untrusted.Dump();
  EXPECT_THAT(untrusted.err, HasSubstr("UNAVAILABLE"));
  const CliResult plaintext = List(**server, {});
  EXPECT_EQ(plaintext.exit_code, 3) << plaintext.Dump();
  EXPECT_THAT(plaintext.err, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ((*server)->Terminate(), 0);
}

TEST_F(CliTlsTest, MutualTls) {
  auto server =
      ServerProcess::Start({"--model-root", SourceDir(), "--tls-cert", File("server.crt"),
                            "--tls-key", File("server.key"), "--tls-client-ca", File("ca.crt")});
  ASSERT_TRUE(server.ok()) << server.status();
  const CliResult ok = List(**server, {"--tls-ca", File("ca.crt"), "--tls-cert", File("client.crt"),
                                       "--tls-key", File("client.key")});
  EXPECT_EQ(ok.exit_code, 0) << ok.Dump();
  EXPECT_THAT(ok.out, HasSubstr("MB resident"));
  const CliResult no_client = List(**server, {"--tls-ca", File("ca.crt")});
  EXPECT_EQ(no_client.exit_code, 3) << no_client.Dump();
  EXPECT_THAT(no_client.err, HasSubstr("UNAVAILABLE"));
  const CliResult rogue =
      List(**server, {"--tls-ca", File("ca.crt"), "--tls-cert", File("rogue-client.crt"),
                      "--tls-key", File("rogue-client.key")});
  EXPECT_EQ(rogue.exit_code, 3) << rogue.Dump();
  EXPECT_THAT(rogue.err, HasSubstr("UNAVAILABLE"));
  const CliResult half =
      List(**server, {"--tls-ca", File("ca.crt"), "--tls-cert", File("client.crt")});
  EXPECT_EQ(half.exit_code, 3) << half.Dump();
  EXPECT_THAT(half.err, HasSubstr("--tls-cert and --tls-key go together"));
  EXPECT_EQ((*server)->Terminate(), 0);
}

}  // namespace
}  // namespace prunegate::testing
