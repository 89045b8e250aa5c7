#include "tools/reproduce/experiment.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/status_macros.h"
#include "server/eval/evaluator.h"
#include "server/eval/runner.h"
#include "server/model/model.h"
#include "server/model/tokenizer.h"
#include "server/probe/decode_trace.h"
#include "server/probe/layer_ranking.h"
#include "server/tasks/task_parser.h"
#include "server/verdict/assess.h"

namespace prunegate::reproduce {
namespace {

using prune::DropKind;
using verdict::TaskType;

constexpr double kUnitTemperature = 1.0;

// Index of `t` in `list` (the caller guarantees it is there).
size_t IndexOf(const std::vector<double>& list, double t) {
  return std::find(list.begin(), list.end(), t) - list.begin();
}

tasks::TaskSuite OnlyTask(const tasks::TaskSuite& suite, const std::string& task) {
  tasks::TaskSuite out;
  for (const auto& g : suite.generation) {
    if (g.info.task == task) out.generation.push_back(g);
  }
  for (const auto& m : suite.multiple_choice) {
    if (m.info.task == task) out.multiple_choice.push_back(m);
  }
  if (task == "retrieval") out.retrieval = suite.retrieval;
  return out;
}

// Greedy task scores plus knowledge_gen exact match sampled at every temperature.
absl::StatusOr<Scores> Score(const eval::Runner& runner, const tasks::TaskSuite& suite,
                             const ExperimentOptions& o) {
  eval::EvalOptions eo;
  PG_ASSIGN_OR_RETURN(eval::EvalReport r, eval::Evaluate(runner, suite, eo));
  Scores s;
  s.knowledge_gen = r.generation_by_task["knowledge_gen"].rate();
  s.arithmetic = r.generation_by_task["arithmetic"].rate();
  s.multiple_choice = r.choice.rate();
  s.retrieval = r.retrieval.rate();
  const tasks::TaskSuite kg = OnlyTask(suite, "knowledge_gen");
  for (double t : o.temperatures) {
    eo.sampling.temperature = t;
    eo.sampling.seed = o.seed;
    PG_ASSIGN_OR_RETURN(eval::EvalReport sampled, eval::Evaluate(runner, kg, eo));
    s.sampled_gen[t] = sampled.generation.rate();
  }
  return s;
}

// Each sublayer of `kind` removed alone, at T = 1 (probe::RankLayers), in layer order.
absl::StatusOr<std::vector<probe::LayerDamage>> ProbeEachLayer(
    std::shared_ptr<const Model> base, DropKind kind,
    const std::vector<std::vector<int64_t>>& prompts) {
  probe::LayerRankingOptions ro;
  ro.family = kind;
  ro.temperatures = {kUnitTemperature};
  PG_ASSIGN_OR_RETURN(probe::LayerRanking ranking, probe::RankLayers(base, prompts, ro));
  std::sort(
      ranking.layers.begin(), ranking.layers.end(),
      [](const probe::LayerDamage& a, const probe::LayerDamage& b) { return a.layer < b.layer; });
  return std::move(ranking.layers);
}

// Free-running and teacher-forced traces of every prompt: per-step KL and agreement, and the
// teacher-forced KL at every statistics temperature.
absl::Status Trace(std::shared_ptr<const Model> base, std::shared_ptr<const Model> cand,
                   const std::vector<std::vector<int64_t>>& prompts, const ExperimentOptions& o,
                   Variant* v) {
  const size_t steps = o.trace_steps;
  v->free_kl.assign(steps, 0);
  v->teacher_kl.assign(steps, 0);
  v->free_agree.assign(steps, 0);
  v->kl_by_t.assign(o.stat_temperatures.size(), 0);
  v->kl_pred_by_t.assign(o.stat_temperatures.size(), 0);
  const size_t unit = IndexOf(o.stat_temperatures, kUnitTemperature);
  int64_t teacher_steps = 0;
  for (const auto& ids : prompts) {
    probe::TraceOptions to;
    to.max_steps = o.trace_steps;
    to.temperatures = o.stat_temperatures;
    to.mode = probe::TraceMode::kFree;
    PG_ASSIGN_OR_RETURN(probe::TraceResult free, probe::TraceDecode(base, cand, ids, to));
    for (size_t s = 0; s < steps && s < free.steps.size(); ++s) {
      v->free_kl[s] += free.steps[s].stats.probs[unit].kl / prompts.size();
      const bool same = free.first_divergence < 0 || free.first_divergence > int64_t(s);
      v->free_agree[s] += (same ? 1.0 : 0.0) / prompts.size();
    }
    to.mode = probe::TraceMode::kTeacher;
    PG_ASSIGN_OR_RETURN(probe::TraceResult teacher, probe::TraceDecode(base, cand, ids, to));
    for (size_t s = 0; s < teacher.steps.size(); ++s) {
      const auto& probs = teacher.steps[s].stats.probs;
      if (s < steps) v->teacher_kl[s] += probs[unit].kl / prompts.size();
      for (size_t t = 0; t < probs.size(); ++t) {
        v->kl_by_t[t] += probs[t].kl;
        v->kl_pred_by_t[t] += probs[t].kl_pred;
      }
      ++teacher_steps;
    }
  }
  for (size_t t = 0; t < v->kl_by_t.size(); ++t) {
    v->kl_by_t[t] /= std::max<int64_t>(1, teacher_steps);
    v->kl_pred_by_t[t] /= std::max<int64_t>(1, teacher_steps);
  }
  return absl::OkStatus();
}

// Story openings for a model without task files (TinyStories-style models such as
// stories260K).
const std::vector<std::string>& StoryOpenings() {
  static const auto* kOpenings = new std::vector<std::string>{
      "Once upon a time, there was a little girl named Lily.",
      "Once upon a time, there was a big dog.", "Tom and Sue went to the park.",
      "One day, a little bird found a shiny stone.", "Sam had a red ball. He liked to",
      "There was a small cat who lived in a house.", "Once upon a time, a boy named Ben wanted to",
      "The sun was hot and the children were", "Mia saw a big tree in the garden.",
      "One day, the little fish swam to", "Lucy loved her mom very much. One day,",
      "The old man had a small boat.", "Once there was a happy frog.",
      "Max and his friend played with", "It was a rainy day. Anna wanted to",
      "A little bear lived in the woods.",
      // The second half: the verdicts' evidence when the outcome is scored on the first.
      "Once upon a time, there was a little boy named Tim.", "The little dog wanted to play with",
      "Sara found a big box in her room.", "One morning, a small duck went to the pond.",
      "Ben had a new toy car. He", "There was a tall girl who liked to sing.",
      "Once upon a time, a kind queen lived in", "The wind was cold and the leaves were",
      "Jack saw a little bunny in the grass.", "One night, the moon looked down at",
      "Emma liked to draw with her crayons. One day,", "The farmer had a big red barn.",
      "Once there was a sleepy owl.", "Tim and his sister looked for",
      "It was a sunny day. Kim wanted to", "A little mouse lived under the stairs."};
  return *kOpenings;
}

tasks::GenerationItem StoryItem(const std::string& text) {
  tasks::GenerationItem g;
  g.info.task = "stories";
  g.prompt = text;
  g.scoring = tasks::Scoring::kBaselineAgreement;
  return g;
}

tasks::TaskSuite WithoutLabels(tasks::TaskSuite suite) {
  for (auto& m : suite.multiple_choice) m.label.reset();
  return suite;
}

// Mean over prompts of the fraction of the baseline's tokens the candidate reproduces at the
// same positions, both sampling at T with the same seeds.
absl::StatusOr<double> SampledAgreement(const eval::Runner& a, const eval::Runner& b,
                                        const std::vector<std::vector<int64_t>>& prompts,
                                        const ExperimentOptions& o, double t) {
  SamplingOptions so;
  so.temperature = t;
  so.seed = o.seed;
  const int64_t steps = o.policy.generation.max_steps;
  const bool newline = o.policy.generation.stop_at_newline;
  PG_ASSIGN_OR_RETURN(auto want, eval::Continuations(a, prompts, steps, newline, so));
  PG_ASSIGN_OR_RETURN(auto got, eval::Continuations(b, prompts, steps, newline, so));
  double sum = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i].ids;
    const auto& g = got[i].ids;
    int64_t same = 0;
    for (size_t k = 0; k < w.size() && k < g.size(); ++k) same += w[k] == g[k];
    sum += w.empty() ? (g.empty() ? 1.0 : 0.0) : static_cast<double>(same) / w.size();
  }
  return want.empty() ? 0.0 : sum / want.size();
}

double Tolerance(const verdict::Policy& p, TaskType task) {
  switch (task) {
    case TaskType::kGeneration:
      return p.generation.tolerance;
    case TaskType::kMultipleChoice:
      return p.multiple_choice.tolerance;
    case TaskType::kRetrieval:
      return p.retrieval.tolerance;
  }
  return 0;
}

double ScoreFor(const Scores& s, TaskType task, double t) {
  switch (task) {
    case TaskType::kGeneration:
      return s.sampled_gen.at(t);
    case TaskType::kMultipleChoice:
      return s.multiple_choice;
    case TaskType::kRetrieval:
      return s.retrieval;
  }
  return 0;
}

}  // namespace

std::string Variant::name() const {
  return absl::StrCat(prune::DropKindName(kind), " k=", k, " (layers ", absl::StrJoin(layers, ","),
                      ")");
}

double Agreement(const std::vector<Case>& cases) {
  int64_t agree = 0;
  for (const Case& c : cases) agree += c.agrees();
  return cases.empty() ? 0.0 : static_cast<double>(agree) / cases.size();
}

double Experiment::agreement() const { return Agreement(cases); }
double Experiment::label_free_agreement() const { return Agreement(label_free_cases); }

absl::StatusOr<Experiment> RunExperiment(const ExperimentOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto log = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  if (std::find(o.stat_temperatures.begin(), o.stat_temperatures.end(), kUnitTemperature) ==
      o.stat_temperatures.end()) {
    return absl::InvalidArgumentError("the statistics temperatures must include 1.0");
  }
  PG_RETURN_IF_ERROR(verdict::ValidatePolicy(o.policy));
  PG_ASSIGN_OR_RETURN(std::shared_ptr<const Model> base, Model::Load(o.model_dir));
  PG_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(o.model_dir));
  std::shared_ptr<const Tokenizer> tokenizer(std::move(tok));
  const std::string tasks_dir =
      o.tasks_dir.empty() ? (std::filesystem::path(o.model_dir) / "tasks").string() : o.tasks_dir;
  Experiment e;
  e.generation_only = o.tasks_dir.empty() && !std::filesystem::is_directory(tasks_dir);
  // `suite`: the items every score is measured on (the outcome); `evidence`: the items the
  // verdicts read (ExperimentOptions::disjoint_evidence).
  tasks::TaskSuite suite, evidence;
  if (e.generation_only) {
    const auto& openings = StoryOpenings();
    const size_t half = openings.size() / 2;
    for (size_t i = 0; i < openings.size(); ++i) {
      (i < half ? suite : evidence).generation.push_back(StoryItem(openings[i]));
    }
    if (!o.disjoint_evidence) evidence = suite;
  } else {
    PG_ASSIGN_OR_RETURN(tasks::TaskSuite all, tasks::LoadTaskDir(tasks_dir));
    suite = tasks::FirstItemsPerTask(all, o.per_task);
    evidence = o.disjoint_evidence ? tasks::ItemsPerTask(all, o.per_task, o.per_task) : suite;
  }
  // A task's evidence items; the outcome items where the task file has no second slice.
  auto task_name = [](TaskType task) {
    return task == TaskType::kGeneration       ? "knowledge_gen"
           : task == TaskType::kMultipleChoice ? "knowledge_mc"
                                               : "retrieval";
  };
  auto evidence_for = [&](TaskType task) {
    tasks::TaskSuite items = OnlyTask(evidence, task_name(task));
    return items.empty() ? OnlyTask(suite, task_name(task)) : items;
  };
  if (!e.generation_only) {
    for (TaskType task : {TaskType::kGeneration, TaskType::kMultipleChoice, TaskType::kRetrieval}) {
      if (OnlyTask(evidence, task_name(task)).empty() || !o.disjoint_evidence) {
        e.shared_evidence_tasks.push_back(task_name(task));
      }
    }
  }

  e.model_name = std::filesystem::path(o.model_dir).filename().string();
  e.num_layers = base->num_layers();
  e.parameters = base->parameter_count();
  const eval::Runner runner_a{base, tokenizer, 16};

  // Prompts for the probes and calibration tokens for the importance score: the generation
  // items' prompts (knowledge questions, arithmetic, story openings), in file order.
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& g : suite.generation) {
    if (static_cast<int64_t>(prompts.size()) >= o.trace_prompts) break;
    PG_ASSIGN_OR_RETURN(auto ids, eval::EncodePrompt(runner_a, g.prompt));
    prompts.push_back(std::move(ids));
  }
  if (prompts.empty()) return absl::InvalidArgumentError("the task suite has no generation items");

  log("scoring the baseline");
  if (e.generation_only) {
    for (double t : o.temperatures) e.baseline.sampled_gen[t] = 1.0;
  } else {
    PG_ASSIGN_OR_RETURN(e.baseline, Score(runner_a, suite, o));
  }

  const int max_k = o.max_k > 0 ? o.max_k : e.num_layers / 2;
  for (DropKind kind : {DropKind::kAttention, DropKind::kMlp, DropKind::kBlock}) {
    if (kind != DropKind::kBlock) {
      log(absl::StrCat("probing every layer: ", prune::DropKindName(kind)));
      PG_ASSIGN_OR_RETURN(auto rows, ProbeEachLayer(base, kind, prompts));
      e.layers[SublayerName(rows.front().sublayer)] = std::move(rows);
    }
    PG_ASSIGN_OR_RETURN(std::vector<int> order, prune::ChooseLayers(base, kind, max_k, prompts,
                                                                    prune::Selection::kOneShot));
    for (int k = 1; k <= max_k; ++k) {
      Variant v;
      v.kind = kind;
      v.k = k;
      v.layers.assign(order.begin(), order.begin() + k);
      std::sort(v.layers.begin(), v.layers.end());
      log(absl::StrCat("variant ", v.name()));
      PG_ASSIGN_OR_RETURN(auto cand, prune::DropLayers(*base, kind, v.layers));
      const eval::Runner runner_b{cand, tokenizer, 16};
      if (e.generation_only) {
        for (double t : o.temperatures) {
          PG_ASSIGN_OR_RETURN(v.scores.sampled_gen[t],
                              SampledAgreement(runner_a, runner_b, prompts, o, t));
        }
      } else {
        PG_ASSIGN_OR_RETURN(v.scores, Score(runner_b, suite, o));
      }
      PG_RETURN_IF_ERROR(Trace(base, cand, prompts, o, &v));
      std::vector<TaskType> task_types = {TaskType::kGeneration};
      if (!e.generation_only) {
        task_types.push_back(TaskType::kMultipleChoice);
        task_types.push_back(TaskType::kRetrieval);
      }
      // One verdict per temperature, on `items`, held against the scores measured on `suite`.
      auto judge = [&](TaskType task, const tasks::TaskSuite& items,
                       std::vector<Case>* out) -> absl::Status {
        verdict::AssessOptions ao;
        ao.task = task;
        ao.temperatures = o.temperatures;
        ao.policy = o.policy;
        PG_ASSIGN_OR_RETURN(verdict::Assessment a, verdict::Assess(runner_a, runner_b, items, ao));
        for (const auto& tv : a.verdicts) {
          Case c;
          c.variant = v.name();
          c.task = task;
          c.temperature = tv.temperature;
          c.level = tv.level;
          c.rule = tv.rule;
          c.reason = tv.reason;
          c.checks = tv.checks;
          c.baseline_score = ScoreFor(e.baseline, task, tv.temperature);
          c.candidate_score = ScoreFor(v.scores, task, tv.temperature);
          c.tolerance = Tolerance(o.policy, task);
          out->push_back(std::move(c));
        }
        return absl::OkStatus();
      };
      for (TaskType task : task_types) {
        const tasks::TaskSuite items = e.generation_only ? evidence : evidence_for(task);
        PG_RETURN_IF_ERROR(judge(task, items, &e.cases));
        if (task == TaskType::kMultipleChoice) {
          PG_RETURN_IF_ERROR(judge(task, WithoutLabels(items), &e.label_free_cases));
        }
      }
      e.variants.push_back(std::move(v));
    }
  }
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return e;
}

}  // namespace prunegate::reproduce
