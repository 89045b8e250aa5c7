#include "tests/service/service_test_util.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/channel.h"
#include "tests/fixtures/fixture_checkpoints.h"
#include "tests/service/metrics_test_util.h"
#include "tests/testing/paths.h"

namespace prunegate::testing {
namespace {

namespace fs = std::filesystem;

std::string MakeTestModelRoot() {
  const std::string root = MakeTempDir("prunegate-model-root");
  const fs::path source = fs::path(SourceDir()) / "models" / "tinykb";
  const fs::path tinykb = fs::path(root) / "tinykb";
  fs::create_directories(tinykb);
  for (const fs::directory_entry& entry : fs::directory_iterator(source)) {
    const std::string name = entry.path().filename().string();
    if (name == "training") continue;  // optimizer state: not part of the checkpoint
    fs::copy(entry.path(), tinykb / name, fs::copy_options::recursive);
  }
  const absl::Status fixture =
      WriteFixtureCheckpoint((fs::path(root) / "other").string(), FixtureVariant::kLlama);
  if (!fixture.ok()) {
    std::cerr << "cannot write the fixture checkpoint: " << fixture << "\n";
    std::abort();
  }
  fs::create_directory_symlink("/", fs::path(root) / "escape");
  return root;
}

}  // namespace

const std::string& TestModelRoot() {
  static const std::string* root = new std::string(MakeTestModelRoot());
  return *root;
}

std::vector<std::string> TinykbServerArgs(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--model-root", TestModelRoot(), "--load", "tinykb=tinykb"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                       std::shared_ptr<grpc::ChannelCredentials> credentials,
                                       const std::string& ssl_target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  if (!ssl_target.empty()) args.SetSslTargetNameOverride(ssl_target);
  return grpc::CreateCustomChannel(address, std::move(credentials), args);
}

std::unique_ptr<v1::Prunegate::Stub> PrunegateStub(
    const std::string& address, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  return v1::Prunegate::NewStub(Channel(address, std::move(credentials)));
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline, const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  if (!token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  return context;
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(
    const std::string& address, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(Channel(address));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  auto context = Context(absl::Seconds(10));
  const grpc::Status status = stub->Check(context.get(), request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return response.status();
}

absl::StatusOr<std::vector<std::string>> ReflectedServices(const std::string& address) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(Channel(address));
  auto context = Context(absl::Seconds(10));
  auto stream = stub->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  const bool exchanged = stream->Write(request) && stream->WritesDone() && stream->Read(&response);
  grpc::reflection::v1alpha::ServerReflectionResponse rest;
  while (stream->Read(&rest)) {
  }
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  if (!exchanged) return absl::InternalError("the reflection stream ended without a response");
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) {
    services.push_back(service.name());
  }
  return services;
}

absl::StatusOr<double> ScrapeMetric(int metrics_port, const std::string& name,
                                    const std::map<std::string, std::string>& labels) {
  absl::StatusOr<HttpResult> scrape = HttpGet("127.0.0.1", metrics_port, "/metrics");
  if (!scrape.ok()) return scrape.status();
  std::string series = name;
  if (!labels.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [key, value] : labels) pairs.push_back(absl::StrCat(key, "=\"", value, "\""));
    series = absl::StrCat(name, "{", absl::StrJoin(pairs, ","), "}");
  }
  for (absl::string_view line : absl::StrSplit(scrape->body, '\n')) {
    if (!absl::ConsumePrefix(&line, series + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return absl::NotFoundError(absl::StrCat(series, " is not in /metrics"));
}

v1::Input TextInput(const std::string& text) {
  v1::Input input;
  input.set_text(text);
  return input;
}

v1::Input IdsInput(const std::vector<int64_t>& ids) {
  v1::Input input;
  for (int64_t id : ids) input.mutable_ids()->add_ids(id);
  return input;
}

grpc::Status LoadModel(v1::Prunegate::Stub& stub, const std::string& name, const std::string& path,
                       v1::ModelInfo* info, const std::string& token) {
  v1::LoadModelRequest request;
  request.set_name(name);
  request.set_path(path);
  request.set_wait(true);
  v1::ModelInfo response;
  auto context = Context(absl::Seconds(60), token);
  const grpc::Status status = stub.LoadModel(context.get(), request, &response);
  if (info != nullptr) *info = response;
  return status;
}

std::vector<v1::ModelInfo> ListModels(v1::Prunegate::Stub& stub) {
  v1::ListModelsResponse response;
  auto context = Context();
  const grpc::Status status = stub.ListModels(context.get(), {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return {response.models().begin(), response.models().end()};
}

std::optional<v1::ModelInfo> FindModel(v1::Prunegate::Stub& stub, const std::string& name) {
  for (const v1::ModelInfo& info : ListModels(stub)) {
    if (info.name() == name) return info;
  }
  return std::nullopt;
}

grpc::Status UnloadModel(v1::Prunegate::Stub& stub, const std::string& name) {
  v1::UnloadModelRequest request;
  request.set_name(name);
  v1::UnloadModelResponse response;
  auto context = Context();
  return stub.UnloadModel(context.get(), request, &response);
}

grpc::Status DeriveDrop(v1::Prunegate::Stub& stub, const std::string& baseline,
                        const std::string& name, const std::vector<int>& layers, v1::DropKind kind,
                        v1::ModelInfo* info) {
  v1::DeriveModelRequest request;
  request.set_baseline(baseline);
  request.set_name(name);
  request.mutable_recipe()->set_kind(kind);
  for (int layer : layers) request.mutable_recipe()->add_layers(layer);
  v1::ModelInfo response;
  auto context = Context();
  const grpc::Status status = stub.DeriveModel(context.get(), request, &response);
  if (info != nullptr) *info = response;
  return status;
}

}  // namespace prunegate::testing
