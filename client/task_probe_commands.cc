#include "client/task_probe_commands.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/input_files.h"
#include "client/progress.h"

namespace prunegate::client {
namespace {

std::string Label(int label) { return label < 0 ? "-" : absl::StrCat(label); }

}  // namespace

Table ChoiceTable(const std::vector<double>& temperatures) {
  std::vector<Column> columns = {{"item", 4}, {"id", 10, true}, {"label", 5},
                                 {"a", 3},    {"b", 3},         {"agree", 5, true}};
  for (double t : temperatures) columns.push_back({absl::StrCat("KL@", Temp(t)), 10});
  return Table(std::move(columns));
}

std::vector<std::string> ChoiceCells(const v1::ChoiceResult& result) {
  const bool any = result.subspace_size() > 0;
  const v1::SubspaceStats& first = any ? result.subspace(0) : v1::SubspaceStats::default_instance();
  std::vector<std::string> cells = {absl::StrCat(result.index()),
                                    result.id(),
                                    Label(result.label()),
                                    any ? absl::StrCat(first.argmax_a()) : "-",
                                    any ? absl::StrCat(first.argmax_b()) : "-",
                                    any ? YesNo(first.argmax_agree()) : "-"};
  for (const v1::SubspaceStats& s : result.subspace()) cells.push_back(Num(s.kl()));
  return cells;
}

std::string ChoiceSummaryText(const v1::ChoiceSummary& summary) {
  std::string out = absl::StrCat("\nitems: ", summary.items(), "  labelled: ", summary.labelled(),
                                 "  argmax agreement: ", Fixed(summary.argmax_agreement(), 3));
  if (summary.labelled() > 0) {
    absl::StrAppend(&out, "\naccuracy: baseline ", Fixed(summary.accuracy_a(), 3), "  candidate ",
                    Fixed(summary.accuracy_b(), 3));
  }
  for (int i = 0; i < summary.temperatures_size() && i < summary.mean_kl_size(); ++i) {
    absl::StrAppend(&out, "\nmean subspace KL at T=", Temp(summary.temperatures(i)), ": ",
                    Num(summary.mean_kl(i)));
  }
  return out + "\n";
}

int RunChoices(const std::vector<std::string>& args, CommandEnv env) {
  PairArgs pair;
  std::string items_file;
  std::vector<double> temperatures;
  bool json = false;
  FlagSet flags("choices", "--baseline B --candidate C --items FILE.jsonl [--temperature ..]",
                "Compares the two models on multiple-choice items (the multiple_choice lines of "
                "a task file, docs/task-format.md): the next-token distribution restricted to "
                "the option tokens, its argmax and KL, and each model's accuracy.");
  AddPairFlags(&flags, &pair);
  flags.AddString("items", &items_file, "FILE", "task file (or directory of task files)");
  AddTemperatureFlag(&flags, &temperatures);
  flags.AddBool("json", &json, "one JSON ChoiceEvent per line");
  if (auto stop = ParseCommandLine(&flags, args, &env)) return *stop;
  v1::ProbeChoicesRequest request;
  absl::Status valid = SetPair(flags, pair, &request);
  if (valid.ok()) valid = flags.Require({"items"});
  if (!valid.ok()) return UsageError(flags, valid, env);
  absl::StatusOr<tasks::TaskSuite> suite = LoadTaskSuite(items_file);
  if (!suite.ok()) return ReportError(suite.status(), *env.err);
  absl::StatusOr<std::vector<v1::ChoiceItem>> items = ChoiceItems(*suite, items_file);
  if (!items.ok()) return ReportError(items.status(), *env.err);
  request.mutable_items()->Add(items->begin(), items->end());
  request.mutable_temperatures()->Add(temperatures.begin(), temperatures.end());
  const Table table = ChoiceTable(EffectiveTemperatures(temperatures));
  if (!json) *env.out << table.Header() << std::flush;
  return CallStream<v1::ProbeChoicesRequest, v1::ChoiceEvent>(
      env, &v1::Prunegate::Stub::ProbeChoices, request,
      EventPrinter<v1::ChoiceEvent>(json, env, [&](const v1::ChoiceEvent& event) {
        if (event.has_item()) *env.out << table.Row(ChoiceCells(event.item()));
        if (event.has_summary()) *env.out << ChoiceSummaryText(event.summary());
      }));
}

std::string EmbeddingSummaryText(const v1::EmbeddingSummary& summary) {
  std::string out = absl::StrCat("\nmean cosine: ", Num(summary.mean_cosine()));
  if (summary.queries() > 0) {
    absl::StrAppend(&out, "\nqueries: ", summary.queries(), "  recall@1: baseline ",
                    Fixed(summary.recall_at_1_a(), 3), "  candidate ",
                    Fixed(summary.recall_at_1_b(), 3),
                    "\ntop-k overlap: ", Fixed(summary.mean_topk_overlap(), 3),
                    "  Kendall tau: ", Fixed(summary.mean_kendall_tau(), 3));
  }
  return out + "\n";
}

FlagSet EmbeddingsFlags(EmbeddingsArgs* args) {
  FlagSet flags("embeddings",
                "--baseline B --candidate C (--texts FILE | --items FILE.jsonl) "
                "[--pooling last|mean]",
                "Compares pooled hidden-state embeddings: the cosine between the two models per "
                "text (--texts: one text per line), and for retrieval sets (--items: the "
                "retrieval lines of a task file) recall@1 and ranking stability.");
  AddPairFlags(&flags, &args->pair);
  flags.AddString("texts", &args->texts_file, "FILE", "one text per line");
  flags.AddString("items", &args->items_file, "FILE", "task file with retrieval sets");
  flags.AddString("pooling", &args->pooling, "last|mean",
                  "last token's hidden state (default) or the mean over the text");
  flags.AddInt("top-k", &args->top_k, "K", "k of the ranking overlap (default 3)");
  flags.AddBool("json", &args->json, "one JSON EmbeddingEvent per line");
  return flags;
}

absl::StatusOr<v1::ProbeEmbeddingsRequest> EmbeddingsRequestFrom(const FlagSet& flags,
                                                                 const EmbeddingsArgs& args) {
  v1::ProbeEmbeddingsRequest request;
  if (absl::Status s = SetPair(flags, args.pair, &request); !s.ok()) return s;
  if (absl::Status s = flags.RequireExactlyOne({"texts", "items"}); !s.ok()) return s;
  absl::StatusOr<v1::Pooling> pooling = ParseChoice<v1::Pooling>(
      "pooling", args.pooling, {{"last", v1::LAST}, {"mean", v1::MEAN}}, v1::LAST);
  if (!pooling.ok()) return pooling.status();
  request.set_pooling(*pooling);
  request.set_top_k(static_cast<int32_t>(args.top_k));
  if (flags.IsSet("texts")) {
    absl::StatusOr<std::vector<std::string>> texts = ReadTextLines(args.texts_file);
    if (!texts.ok()) return texts.status();
    request.mutable_texts()->Add(texts->begin(), texts->end());
  } else {
    absl::StatusOr<tasks::TaskSuite> suite = LoadTaskSuite(args.items_file);
    if (!suite.ok()) return suite.status();
    absl::StatusOr<std::vector<v1::RetrievalSet>> sets = RetrievalSets(*suite, args.items_file);
    if (!sets.ok()) return sets.status();
    request.mutable_sets()->Add(sets->begin(), sets->end());
  }
  return request;
}

int RunEmbeddings(const std::vector<std::string>& args, CommandEnv env) {
  EmbeddingsArgs embeddings;
  v1::ProbeEmbeddingsRequest request;
  if (auto stop =
          ParseRequest(EmbeddingsFlags, EmbeddingsRequestFrom, args, &env, &embeddings, &request)) {
    return *stop;
  }
  const Table table({{"text", 4}, {"cosine", 10}});
  if (!embeddings.json) *env.out << table.Header() << std::flush;
  return CallStream<v1::ProbeEmbeddingsRequest, v1::EmbeddingEvent>(
      env, &v1::Prunegate::Stub::ProbeEmbeddings, request,
      EventPrinter<v1::EmbeddingEvent>(embeddings.json, env, [&](const v1::EmbeddingEvent& event) {
        if (event.has_text()) {
          *env.out << table.Row(
              {absl::StrCat(event.text().index()), absl::StrFormat("%.6f", event.text().cosine())});
        }
        if (event.has_summary()) *env.out << EmbeddingSummaryText(event.summary());
      }));
}

int RunKl(const std::vector<std::string>& args, CommandEnv env) {
  PairArgs pair;
  std::string text, text_file;
  int64_t context = 0;
  double temperature = 0;
  bool json = false;
  FlagSet flags("kl", "--baseline B --candidate C (--text-file F | --text T) [--context N]",
                "Teacher-forces both models over a text and prints the statistics block of "
                "llama.cpp's `llama-perplexity --kl-divergence`: perplexities, KL(baseline || "
                "candidate) percentiles, Δp percentiles, RMS Δp and same-top-p.");
  AddPairFlags(&flags, &pair);
  flags.AddString("text", &text, "T", "the text");
  flags.AddString("text-file", &text_file, "F", "read the text from a file");
  flags.AddInt("context", &context, "N", "tokens per window (default 512, capped by the model)");
  flags.AddDouble("temperature", &temperature, "T", "temperature of the KL (default 1.0)");
  flags.AddBool("json", &json, "print the KlSummary as one JSON line");
  if (auto stop = ParseCommandLine(&flags, args, &env)) return *stop;
  v1::SummarizeKlRequest request;
  absl::Status valid = SetPair(flags, pair, &request);
  if (valid.ok()) valid = flags.RequireExactlyOne({"text", "text-file"});
  if (!valid.ok()) return UsageError(flags, valid, env);
  if (flags.IsSet("text-file")) {
    absl::StatusOr<std::string> contents = ReadFileToString(text_file);
    if (!contents.ok()) return ReportError(contents.status(), *env.err);
    text = *std::move(contents);
  }
  request.mutable_text()->set_text(text);
  request.set_context(static_cast<int32_t>(context));
  request.set_temperature(temperature);
  ProgressReporter progress(env.err, env.err_is_tty);
  return CallStream<v1::SummarizeKlRequest, v1::KlEvent>(
      env, &v1::Prunegate::Stub::SummarizeKl, request, [&](const v1::KlEvent& event) {
        if (event.has_progress()) {
          progress.Update(event.progress());
          return;
        }
        progress.Finish();
        if (json) {
          *env.out << JsonLine(event.summary()) << std::endl;
        } else {
          const std::string& text = event.summary().text();
          *env.out << text << (!text.empty() && text.back() == '\n' ? "" : "\n") << std::flush;
        }
      });
}

}  // namespace prunegate::client
