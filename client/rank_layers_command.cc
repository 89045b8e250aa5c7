#include "client/rank_layers_command.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/output.h"
#include "client/progress.h"

namespace prunegate::client {
namespace {

const char* RecipeName(v1::DropKind family) {
  return family == v1::DROP_ATTENTION ? "drop-attention" : "drop-mlp";
}

}  // namespace

FlagSet RankLayersFlags(RankLayersArgs* args) {
  FlagSet flags("rank-layers",
                "--baseline B --recipe drop-attention|drop-mlp [--prompt TEXT ...] "
                "[--temperature 1.0] [--json]",
                "Removes each attention (or MLP) sublayer of the baseline alone and measures what "
                "it does over calibration prompts: the paper's importance score, the KL through "
                "the logit lens and its Taylor prediction Var_p(delta)/(2T^2), 1 - cos in hidden, "
                "logit and probability space, the lens's top-1 agreement and the KL of the final "
                "output. Prints the layers from least to most damaging by that measured final "
                "KL, beside the order the importance score gives.");
  flags.AddString("baseline", &args->baseline, "B", "the baseline model's name (required)");
  flags.AddString("recipe", &args->recipe, "drop-attention|drop-mlp",
                  "which sublayer of each layer to remove and rank (required)");
  flags.AddRepeatedString("prompt", &args->prompts, "TEXT",
                          "a calibration prompt, repeatable (default: the baseline's task "
                          "prompts, else the server's built-in set)");
  AddTemperatureFlag(&flags, &args->temperatures);
  flags.AddBool("json", &args->json, "print the LayerRanking as one JSON line (the last line)");
  return flags;
}

absl::StatusOr<v1::RankLayersRequest> RankLayersRequestFrom(const FlagSet& flags,
                                                            const RankLayersArgs& args) {
  if (absl::Status s = flags.Require({"baseline", "recipe"}); !s.ok()) return s;
  absl::StatusOr<v1::DropKind> family = ParseChoice<v1::DropKind>(
      "recipe", args.recipe, {{"drop-attention", v1::DROP_ATTENTION}, {"drop-mlp", v1::DROP_MLP}},
      v1::DROP_KIND_UNSPECIFIED);
  if (!family.ok()) return family.status();
  v1::RankLayersRequest request;
  request.set_baseline(args.baseline);
  request.set_family(*family);
  for (const std::string& prompt : args.prompts) request.add_prompts()->set_text(prompt);
  request.mutable_temperatures()->Add(args.temperatures.begin(), args.temperatures.end());
  return request;
}

std::string RankingText(const v1::LayerRanking& ranking, const std::string& baseline) {
  const double first_t = ranking.temperatures().empty() ? 1.0 : ranking.temperatures(0);
  std::string out = absl::StrCat(
      "rank-layers: baseline ", baseline, ", ", RecipeName(ranking.family()), ", ",
      ranking.prompts(), " prompts (", ranking.positions(), " positions)\n",
      "layers from least to most damaging by the measured propagated KL at T=", Temp(first_t),
      ": the final output with\nonly that layer's ",
      ranking.family() == v1::DROP_ATTENTION ? "attention" : "MLP",
      " removed; importance = mean cos(X, X + F(norm X)), imp rank 1 = the score's first drop\n\n");
  std::vector<Column> columns = {{"rank"},  {"layer"},  {"importance"}, {"imp rank"},
                                 {"h ang"}, {"h pred"}, {"z ang"},      {"z pred"}};
  for (double t : ranking.temperatures()) {
    for (const char* name : {"KL@", "pred@", "p ang@", "out KL@"}) {
      columns.push_back({absl::StrCat(name, Temp(t))});
    }
  }
  columns.push_back({"top1"});
  columns.push_back({"out top1"});
  Table table(std::move(columns));
  std::vector<std::vector<std::string>> rows;
  for (const v1::LayerDamage& d : ranking.layers()) {
    std::vector<std::string> cells = {absl::StrCat(d.damage_rank()),
                                      absl::StrCat(d.layer()),
                                      Fixed(d.importance(), 4),
                                      absl::StrCat(d.importance_rank()),
                                      Num(d.ang_h()),
                                      Num(d.ang_h_pred()),
                                      Num(d.ang_z()),
                                      Num(d.ang_z_pred())};
    for (const v1::LayerDamageAtTemperature& t : d.temperatures()) {
      for (double v : {t.kl(), t.kl_pred(), t.ang_p(), t.propagated_kl()}) cells.push_back(Num(v));
    }
    cells.push_back(Fixed(d.top1_agreement(), 3));
    cells.push_back(Fixed(d.propagated_top1_agreement(), 3));
    rows.push_back(std::move(cells));
  }
  out += table.Render(rows);
  std::vector<int> by_damage;
  for (const v1::LayerDamage& d : ranking.layers()) by_damage.push_back(d.layer());
  absl::StrAppend(
      &out, "\nleast damaging first (measured): ", absl::StrJoin(by_damage, " "),
      "\nmost similar first (importance): ", absl::StrJoin(ranking.by_importance(), " "), "\n");
  return out;
}

int RunRankLayers(const std::vector<std::string>& args, CommandEnv env) {
  RankLayersArgs rank;
  v1::RankLayersRequest request;
  if (auto stop =
          ParseRequest(RankLayersFlags, RankLayersRequestFrom, args, &env, &rank, &request)) {
    return *stop;
  }
  ProgressReporter progress(env.err, env.err_is_tty);
  std::optional<v1::LayerRanking> ranking;
  const int code = CallStream<v1::RankLayersRequest, v1::RankLayersEvent>(
      env, &v1::Prunegate::Stub::RankLayers, request, [&](const v1::RankLayersEvent& event) {
        if (event.has_progress()) progress.Update(event.progress());
        if (event.has_ranking()) ranking = event.ranking();
      });
  progress.Finish();
  if (code != 0) return code;
  if (!ranking.has_value()) {
    *env.err << "prunegate: the server ended RankLayers without a ranking" << std::endl;
    return kExitError;
  }
  if (rank.json) {
    *env.out << JsonLine(*ranking) << std::endl;
  } else {
    *env.out << RankingText(*ranking, request.baseline()) << std::flush;
  }
  return 0;
}

}  // namespace prunegate::client
