#include "client/models_command.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/input_files.h"
#include "client/output.h"

namespace prunegate::client {
namespace {

std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::vector<std::string> ModelCells(const v1::ModelInfo& model) {
  std::string origin = model.baseline().empty()
                           ? model.path()
                           : absl::StrCat(model.baseline(), ": ", model.recipe());
  return {model.name(),
          v1::ModelState_Name(model.state()),
          OrDash(model.reason()),
          OrDash(model.architecture()),
          absl::StrCat(model.num_layers()),
          Params(model.parameters()),
          Mebibytes(model.bytes_resident()),
          Mebibytes(model.bytes_shared()),
          OrDash(origin)};
}

// The model as a one-row table, with the importance scores that chose its dropped layers.
void PrintModel(const v1::ModelInfo& model, bool json, const CommandEnv& env) {
  if (json) {
    *env.out << JsonLine(model) << std::endl;
    return;
  }
  *env.out << ModelsTable({model});
  if (model.importance_size() > 0) {
    *env.out << "\nimportance (mean cos(X, X + F(norm X)); the most similar are dropped first):\n";
    Table table({{"layer"}, {"similarity"}, {"dropped"}});
    std::vector<std::vector<std::string>> rows;
    for (const v1::ImportanceScore& score : model.importance()) {
      bool dropped = false;
      for (int layer : model.dropped_layers()) dropped = dropped || layer == score.layer();
      rows.push_back({absl::StrCat(score.layer()), absl::StrFormat("%.6f", score.similarity()),
                      YesNo(dropped)});
    }
    *env.out << table.Render(rows);
  }
  *env.out << std::flush;
}

}  // namespace

std::string Params(int64_t count) {
  const double n = static_cast<double>(count);
  if (count < 1000) return absl::StrCat(count);
  if (count < 1000000) return absl::StrFormat("%.1fK", n / 1e3);
  if (count < 1000000000) return absl::StrFormat("%.2fM", n / 1e6);
  return absl::StrFormat("%.2fB", n / 1e9);
}

std::string ModelsTable(const std::vector<v1::ModelInfo>& models) {
  Table table({{"name", 0, true},
               {"state", 0, true},
               {"reason", 0, true},
               {"arch", 0, true},
               {"layers"},
               {"params"},
               {"MB resident"},
               {"MB shared"},
               {"baseline/recipe", 0, true}});
  std::vector<std::vector<std::string>> rows;
  for (const v1::ModelInfo& model : models) rows.push_back(ModelCells(model));
  return table.Render(rows);
}

int RunModelsList(const std::vector<std::string>& args, CommandEnv env) {
  bool json = false;
  FlagSet flags("models list", "[--json]", "Lists the models resident on the server.");
  flags.AddBool("json", &json, "print the ListModelsResponse as one JSON line");
  if (auto stop = ParseCommandLine(&flags, args, &env)) return *stop;
  v1::ListModelsResponse response;
  const int code =
      CallUnary(env, &v1::Prunegate::Stub::ListModels, v1::ListModelsRequest(), &response);
  if (code != 0) return code;
  if (json) {
    *env.out << JsonLine(response) << std::endl;
  } else {
    *env.out << ModelsTable({response.models().begin(), response.models().end()}) << std::flush;
  }
  return 0;
}

int RunModelsLoad(const std::vector<std::string>& args, CommandEnv env) {
  std::string name, path, device, dtype;
  bool no_wait = false, json = false;
  FlagSet flags("models load", "--name N --path DIR [--device D] [--dtype T] [--no-wait]",
                "Loads a Hugging Face checkpoint directory (inside the server's --model-root) "
                "and waits until it is READY.");
  flags.AddString("name", &name, "N", "registry name of the model (required)");
  flags.AddString("path", &path, "DIR", "checkpoint directory, relative to the model root");
  flags.AddString("device", &device, "D", "cpu (default) or cuda:N");
  flags.AddString("dtype", &dtype, "T", "float32 (default), bfloat16 or float16");
  flags.AddBool("no-wait", &no_wait, "answer at once with the model LOADING");
  flags.AddBool("json", &json, "print the ModelInfo as one JSON line");
  if (auto stop = ParseCommandLine(&flags, args, &env)) return *stop;
  if (absl::Status s = flags.Require({"name", "path"}); !s.ok()) return UsageError(flags, s, env);
  v1::LoadModelRequest request;
  request.set_name(name);
  request.set_path(path);
  request.set_device(device);
  request.set_dtype(dtype);
  request.set_wait(!no_wait);
  v1::ModelInfo info;
  const int code = CallUnary(env, &v1::Prunegate::Stub::LoadModel, request, &info);
  if (code != 0) return code;
  PrintModel(info, json, env);
  // A load that finished FAILED is an error for a pipeline, though the call itself succeeded.
  if (info.state() == v1::FAILED) {
    *env.err << "prunegate: model " << info.name() << " FAILED: " << info.reason() << std::endl;
    return kExitError;
  }
  return 0;
}

FlagSet DeriveFlags(DeriveArgs* args) {
  FlagSet flags("models derive",
                "--baseline B --name N --recipe drop-attention|drop-mlp|drop-block "
                "(--count K | --layers 3,4) [--iterative]",
                "Derives a candidate from a READY baseline by dropping sublayers or blocks; it "
                "shares every unchanged tensor with the baseline. With --count the layers are "
                "chosen by the importance score (mean cos(X, X + F(norm X)) over calibration "
                "tokens, the most similar dropped first).");
  flags.AddString("baseline", &args->baseline, "B", "the baseline model (required)");
  flags.AddString("name", &args->name, "N", "name of the new candidate (required)");
  flags.AddString("recipe", &args->recipe, "R", "drop-attention, drop-mlp or drop-block");
  flags.AddInt("count", &args->count, "K", "drop the K layers the importance score ranks first");
  flags.AddIntList("layers", &args->layers, "3,4", "drop exactly these layers");
  flags.AddBool("iterative", &args->iterative,
                "with --count: rescore the pruned model after each drop");
  flags.AddString("calibration-file", &args->calibration_file, "FILE",
                  "calibration texts for the importance score, one per line");
  flags.AddBool("json", &args->json, "print the ModelInfo as one JSON line");
  return flags;
}

absl::StatusOr<v1::DeriveModelRequest> DeriveRequestFrom(const FlagSet& flags,
                                                         const DeriveArgs& args) {
  if (absl::Status s = flags.Require({"baseline", "name", "recipe"}); !s.ok()) return s;
  if (absl::Status s = flags.RequireExactlyOne({"count", "layers"}); !s.ok()) return s;
  absl::StatusOr<v1::DropKind> kind =
      ParseChoice<v1::DropKind>("recipe", args.recipe,
                                {{"drop-attention", v1::DROP_ATTENTION},
                                 {"drop-mlp", v1::DROP_MLP},
                                 {"drop-block", v1::DROP_BLOCK}},
                                v1::DROP_KIND_UNSPECIFIED);
  if (!kind.ok()) return kind.status();
  if (flags.IsSet("count") && args.count < 1) {
    return absl::InvalidArgumentError("--count must be >= 1");
  }
  if (args.iterative && !flags.IsSet("count")) {
    return absl::InvalidArgumentError("--iterative needs --count");
  }
  v1::DeriveModelRequest request;
  request.set_baseline(args.baseline);
  request.set_name(args.name);
  v1::DropRecipe* drop = request.mutable_recipe();
  drop->set_kind(*kind);
  for (int64_t layer : args.layers) drop->add_layers(static_cast<int32_t>(layer));
  drop->set_count(static_cast<int32_t>(args.count));
  drop->set_selection(args.iterative ? v1::ITERATIVE : v1::ONE_SHOT);
  if (!args.calibration_file.empty()) {
    absl::StatusOr<std::vector<std::string>> texts = ReadTextLines(args.calibration_file);
    if (!texts.ok()) return texts.status();
    for (std::string& text : *texts) drop->add_calibration_texts(std::move(text));
  }
  return request;
}

int RunModelsDerive(const std::vector<std::string>& args, CommandEnv env) {
  DeriveArgs derive;
  v1::DeriveModelRequest request;
  if (auto stop = ParseRequest(DeriveFlags, DeriveRequestFrom, args, &env, &derive, &request)) {
    return *stop;
  }
  v1::ModelInfo info;
  const int code = CallUnary(env, &v1::Prunegate::Stub::DeriveModel, request, &info);
  if (code != 0) return code;
  PrintModel(info, derive.json, env);
  return 0;
}

int RunModelsUnload(const std::vector<std::string>& args, CommandEnv env) {
  std::string name;
  FlagSet flags("models unload", "--name N", "Unloads a model from the server.");
  flags.AddString("name", &name, "N", "the model to unload (required)");
  if (auto stop = ParseCommandLine(&flags, args, &env)) return *stop;
  if (absl::Status s = flags.Require({"name"}); !s.ok()) return UsageError(flags, s, env);
  v1::UnloadModelRequest request;
  request.set_name(name);
  v1::UnloadModelResponse response;
  const int code = CallUnary(env, &v1::Prunegate::Stub::UnloadModel, request, &response);
  if (code != 0) return code;
  *env.out << "unloaded " << name << std::endl;
  return 0;
}

}  // namespace prunegate::client
