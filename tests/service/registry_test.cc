// Registry RPCs against the real server: LoadModel / DeriveModel / UnloadModel / ListModels, the
// model-root sandbox, names, the memory budget, the lifecycle states, and health while the
// start-up loads run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/service/service_test_util.h"
#include "tests/testing/paths.h"

namespace prunegate::testing {
namespace {

using ::testing::HasSubstr;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

// tinykb holds 18.5 MB; a second copy does not fit, derived candidates (shared tensors) do.
constexpr char kBudget[] = "30000000";

class RegistryTest : public ServerTest<RegistryTest> {
 public:
  static std::vector<std::string> ServerArgs() {
    return TinykbServerArgs({"--memory-budget-bytes", kBudget});
  }

 protected:
  std::optional<v1::ModelInfo> Find(const std::string& name) { return FindModel(*stub_, name); }
  grpc::Status Unload(const std::string& name) { return UnloadModel(*stub_, name); }
  grpc::Status Derive(const v1::DeriveModelRequest& request, v1::ModelInfo* info = nullptr) {
    v1::ModelInfo response;
    auto context = Context();
    const grpc::Status status = stub_->DeriveModel(context.get(), request, &response);
    if (info != nullptr) *info = response;
    return status;
  }
};

TEST_F(RegistryTest, ListsTheStartupModel) {
  const std::optional<v1::ModelInfo> tinykb = Find("tinykb");
  ASSERT_TRUE(tinykb.has_value());
  EXPECT_EQ(tinykb->state(), v1::READY);
  EXPECT_EQ(tinykb->architecture(), "LlamaForCausalLM");
  EXPECT_EQ(tinykb->device(), "cpu");
  EXPECT_EQ(tinykb->dtype(), "float32");
  EXPECT_EQ(tinykb->num_layers(), 6);
  EXPECT_EQ(tinykb->hidden_size(), 256);
  EXPECT_EQ(tinykb->vocab_size(), 1536);
  EXPECT_GT(tinykb->parameters(), 4'000'000);
  EXPECT_GT(tinykb->bytes_resident(), 16'000'000);
  EXPECT_EQ(tinykb->bytes_shared(), 0);
  EXPECT_THAT(tinykb->path(), ::testing::EndsWith("/tinykb"));
}

TEST_F(RegistryTest, DeriveListUnload) {
  v1::ModelInfo info;
  const grpc::Status derived =
      DeriveDrop(*stub_, "tinykb", "lifecycle-drop", {3, 1}, v1::DROP_MLP, &info);
  ASSERT_TRUE(derived.ok()) << derived.error_message();
  EXPECT_EQ(info.state(), v1::READY);
  EXPECT_EQ(info.baseline(), "tinykb");
  EXPECT_EQ(info.recipe(), "drop-mlp layers 3,1");
  EXPECT_THAT(info.dropped_layers(), ::testing::ElementsAre(3, 1));
  // Everything the candidate kept is the baseline's storage.
  EXPECT_GT(info.bytes_shared(), 0);
  EXPECT_EQ(info.bytes_shared(), info.bytes_resident());
  ASSERT_TRUE(Find("lifecycle-drop").has_value());

  EXPECT_TRUE(Unload("lifecycle-drop").ok());
  EXPECT_FALSE(Find("lifecycle-drop").has_value());
  EXPECT_CODE(Unload("lifecycle-drop"), NOT_FOUND);
  EXPECT_TRUE(Find("tinykb").has_value());
}

TEST_F(RegistryTest, DeriveByCountChoosesByImportance) {
  v1::DeriveModelRequest request;
  request.set_baseline("tinykb");
  request.set_name("count-drop");
  request.mutable_recipe()->set_kind(v1::DROP_ATTENTION);
  request.mutable_recipe()->set_count(2);
  request.mutable_recipe()->add_calibration_texts("Q: What colour does Kimpo like best of all? A:");
  request.mutable_recipe()->add_calibration_texts("Once upon a time there was a small fox.");
  v1::ModelInfo info;
  const grpc::Status status = Derive(request, &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.dropped_layers_size(), 2);
  EXPECT_EQ(info.importance_size(), 6);  // every attention sublayer scored
  EXPECT_THAT(info.recipe(), HasSubstr("chosen by importance score, one-shot"));
  // One-shot: the dropped layers are the two most similar ones.
  std::vector<std::pair<double, int>> ranked;
  for (const v1::ImportanceScore& score : info.importance()) {
    ranked.push_back({score.similarity(), score.layer()});
  }
  std::sort(ranked.rbegin(), ranked.rend());
  EXPECT_THAT(info.dropped_layers(),
              ::testing::UnorderedElementsAre(ranked[0].second, ranked[1].second));
  EXPECT_TRUE(Unload("count-drop").ok());

  // Without texts: the calibration set comes from tinykb's tasks/ folder.
  request.set_name("count-drop-tasks");
  request.mutable_recipe()->clear_calibration_texts();
  request.mutable_recipe()->set_selection(v1::ITERATIVE);
  ASSERT_TRUE(Derive(request, &info).ok());
  EXPECT_EQ(info.dropped_layers_size(), 2);
  EXPECT_TRUE(Unload("count-drop-tasks").ok());
}

TEST_F(RegistryTest, DeriveRejectsBadRecipes) {
  v1::DeriveModelRequest request;
  request.set_baseline("tinykb");
  request.set_name("bad-recipe");
  request.mutable_recipe()->set_kind(v1::DROP_MLP);
  request.mutable_recipe()->add_layers(6);
  grpc::Status status = Derive(request);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("layer 6 is outside [0, 6)"));

  request.mutable_recipe()->set_layers(0, -1);
  EXPECT_CODE(Derive(request), INVALID_ARGUMENT);

  request.mutable_recipe()->set_layers(0, 2);
  request.mutable_recipe()->add_layers(2);
  status = Derive(request);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("listed twice"));

  request.mutable_recipe()->clear_layers();
  status = Derive(request);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("recipe needs"));

  request.mutable_recipe()->add_layers(1);
  request.mutable_recipe()->set_count(1);
  EXPECT_CODE(Derive(request), INVALID_ARGUMENT);

  request.mutable_recipe()->set_count(0);
  request.mutable_recipe()->set_kind(v1::DROP_KIND_UNSPECIFIED);
  status = Derive(request);
  EXPECT_CODE(status, INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("recipe.kind"));

  request.mutable_recipe()->set_kind(v1::DROP_MLP);
  request.set_baseline("no-such-model");
  EXPECT_CODE(Derive(request), NOT_FOUND);

  request.set_baseline("tinykb");
  request.set_name("tinykb");
  EXPECT_CODE(Derive(request), ALREADY_EXISTS);
  request.set_name("bad/name");
  EXPECT_CODE(Derive(request), INVALID_ARGUMENT);
  request.set_name(std::string(65, 'x'));
  EXPECT_CODE(Derive(request), INVALID_ARGUMENT);
  EXPECT_FALSE(Find("bad-recipe").has_value());  // failed derivations leave nothing behind

  // A second drop of an already dropped sublayer fails in the library, after the checks.
  ASSERT_TRUE(DeriveDrop(*stub_, "tinykb", "drop-twice-a", {2}).ok());
  EXPECT_CODE(DeriveDrop(*stub_, "drop-twice-a", "drop-twice-b", {2}), INVALID_ARGUMENT);
  EXPECT_FALSE(Find("drop-twice-b").has_value());
  EXPECT_TRUE(Unload("drop-twice-a").ok());
}

TEST_F(RegistryTest, PathsStayInsideTheModelRoot) {
  grpc::Status status = LoadModel(*stub_, "escape-dotdot", "../");
  EXPECT_CODE(status, PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("outside the model root"));
  EXPECT_CODE(LoadModel(*stub_, "escape-abs", "/etc"), PERMISSION_DENIED);
  EXPECT_CODE(LoadModel(*stub_, "escape-link", "escape/etc"), PERMISSION_DENIED);
  EXPECT_CODE(LoadModel(*stub_, "escape-link2", "tinykb/../escape"), PERMISSION_DENIED);
  EXPECT_CODE(LoadModel(*stub_, "escape-missing", "../no-such-dir"), PERMISSION_DENIED);
  EXPECT_CODE(LoadModel(*stub_, "missing", "no-such-dir"), NOT_FOUND);
  EXPECT_CODE(LoadModel(*stub_, "empty-path", ""), INVALID_ARGUMENT);
  EXPECT_CODE(LoadModel(*stub_, "tinykb", "tinykb"), ALREADY_EXISTS);
  EXPECT_CODE(LoadModel(*stub_, "bad name", "other"), INVALID_ARGUMENT);
  for (const char* name : {"escape-dotdot", "escape-abs", "escape-link", "missing"}) {
    EXPECT_FALSE(Find(name).has_value()) << name;
  }
  // Absolute paths inside the root are fine.
  const std::string inside = TestModelRoot() + "/other";
  v1::ModelInfo info;
  ASSERT_TRUE(LoadModel(*stub_, "other-abs", inside, &info).ok());
  EXPECT_EQ(info.state(), v1::READY);
  EXPECT_EQ(info.vocab_size(), 64);
  EXPECT_TRUE(Unload("other-abs").ok());
}

TEST_F(RegistryTest, MemoryBudgetCountsSharedTensorsOnce) {
  grpc::Status status = LoadModel(*stub_, "tinykb-copy", "tinykb");
  EXPECT_CODE(status, RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--memory-budget-bytes"));
  // Two drop candidates share the baseline's tensors and fit.
  ASSERT_TRUE(DeriveDrop(*stub_, "tinykb", "budget-a", {0}).ok());
  ASSERT_TRUE(DeriveDrop(*stub_, "tinykb", "budget-b", {1}, v1::DROP_ATTENTION).ok());
  EXPECT_TRUE(Unload("budget-a").ok());
  EXPECT_TRUE(Unload("budget-b").ok());
}

TEST_F(RegistryTest, LoadWithoutWaitThenReady) {
  v1::LoadModelRequest request;
  request.set_name("other-async");
  request.set_path("other");
  v1::ModelInfo info;
  auto context = Context();
  ASSERT_TRUE(stub_->LoadModel(context.get(), request, &info).ok());
  EXPECT_EQ(info.state(), v1::LOADING);
  EXPECT_THAT(info.reason(), HasSubstr("loading"));
  std::optional<v1::ModelInfo> listed;
  for (int i = 0; i < 200; ++i) {
    listed = Find("other-async");
    if (listed && listed->state() != v1::LOADING) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->state(), v1::READY);
  EXPECT_TRUE(Unload("other-async").ok());
}

TEST_F(RegistryTest, FailedLoadIsListedWithItsReasonAndCanBeRetried) {
  const std::string broken = TestModelRoot() + "/broken";
  std::filesystem::create_directories(broken);
  std::ofstream(broken + "/config.json") << "{ not json";
  const grpc::Status status = LoadModel(*stub_, "broken", "broken");
  EXPECT_CODE(status, INVALID_ARGUMENT);
  const std::optional<v1::ModelInfo> listed = Find("broken");
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->state(), v1::FAILED);
  EXPECT_THAT(listed->reason(), HasSubstr("config.json"));

  // A FAILED model is not usable ...
  v1::TraceDecodeRequest trace;
  trace.set_baseline("tinykb");
  trace.set_candidate("broken");
  *trace.mutable_prompt() = IdsInput({1, 2, 3});
  const auto result = Stream(*stub_, &v1::Prunegate::Stub::TraceDecode, trace);
  EXPECT_CODE(result.status, FAILED_PRECONDITION);
  EXPECT_THAT(result.status.error_message(), HasSubstr("FAILED"));
  // ... and its name can be loaded again.
  ASSERT_TRUE(LoadModel(*stub_, "broken", "other").ok());
  EXPECT_EQ(Find("broken")->state(), v1::READY);
  EXPECT_TRUE(Unload("broken").ok());
}

// The server binds its port before the start-up loads (--load) and reports NOT_SERVING until
// they are READY. A load of tinykb takes well under a second, too short to watch reliably, so the
// test holds it: "held" is tinykb with its tokenizer.json replaced by a named pipe, and the load
// cannot finish before the test writes the tokenizer into the pipe. No server flag is needed.
TEST(StartupTest, HealthIsNotServingUntilTheStartupLoadsFinish) {
  namespace fs = std::filesystem;
  const fs::path held = fs::path(TestModelRoot()) / "held";
  fs::remove_all(held);
  fs::create_directories(held);
  for (const fs::directory_entry& entry :
       fs::directory_iterator(fs::path(TestModelRoot()) / "tinykb")) {
    const std::string name = entry.path().filename().string();
    if (name == "tokenizer.json") continue;
    fs::create_symlink(fs::path("..") / "tinykb" / name, held / name);
  }
  const std::string pipe = (held / "tokenizer.json").string();
  ASSERT_EQ(mkfifo(pipe.c_str(), 0600), 0) << std::strerror(errno);
  const std::string tokenizer = ReadWholeFile(TestModelRoot() + "/tinykb/tokenizer.json");
  ASSERT_FALSE(tokenizer.empty());

  auto server =
      ServerProcess::StartListening({"--model-root", TestModelRoot(), "--load", "held=held"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();

  // Wait until the load has opened the pipe: an O_NONBLOCK open for writing fails with ENXIO
  // while no reader has it open.
  int fd = -1;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (fd < 0 && absl::Now() < deadline && (*server)->Running()) {
    fd = open(pipe.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(fd, 0) << "the start-up load never opened " << pipe << "; stderr:\n"
                   << (*server)->StderrTail();

  // The load is stuck inside the tokenizer: the server answers, but is not serving yet.
  // (EXPECT, not ASSERT: the pipe must be written below whatever happens, or the server hangs.)
  absl::StatusOr<HealthStatus::ServingStatus> health = CheckHealth(address);
  EXPECT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health.value_or(HealthStatus::UNKNOWN), HealthStatus::NOT_SERVING);
  health = CheckHealth(address, "prunegate.v1.Prunegate");
  EXPECT_EQ(health.value_or(HealthStatus::UNKNOWN), HealthStatus::NOT_SERVING);
  auto stub = PrunegateStub(address);
  const std::optional<v1::ModelInfo> loading = FindModel(*stub, "held");
  EXPECT_TRUE(loading.has_value());
  if (loading) {
    EXPECT_EQ(loading->state(), v1::LOADING);
  }

  // Release the load: the tokenizer through the pipe, then end of file.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  for (size_t written = 0; written < tokenizer.size();) {
    const ssize_t n = write(fd, tokenizer.data() + written, tokenizer.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << std::strerror(errno);
    written += static_cast<size_t>(n);
  }
  close(fd);

  ASSERT_TRUE((*server)->WaitUntilReady(absl::Seconds(90)).ok()) << (*server)->StderrTail();
  EXPECT_EQ(CheckHealth(address).value_or(HealthStatus::UNKNOWN), HealthStatus::SERVING);
  EXPECT_EQ(CheckHealth(address, "prunegate.v1.Prunegate").value_or(HealthStatus::UNKNOWN),
            HealthStatus::SERVING);
  const std::optional<v1::ModelInfo> ready = FindModel(*stub, "held");
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->state(), v1::READY);
  EXPECT_EQ((*server)->Terminate(), 0) << (*server)->StderrTail();
}

}  // namespace
}  // namespace prunegate::testing
