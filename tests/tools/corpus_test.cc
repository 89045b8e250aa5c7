// The synthetic corpus generator: determinism (same seed, byte-identical files; different seed,
// different corpus; task files independent of the text size), file shapes and sizes, task files
// that parse back, and the building blocks (RNG, names, templates, options).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/tasks/task_parser.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "tests/tools/corpus_fixture.h"
#include "tools/corpus/corpus_generator.h"
#include "tools/corpus/names.h"
#include "tools/corpus/rng.h"
#include "tools/corpus/text_template.h"

namespace prunegate::corpus {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
namespace fs = std::filesystem;

TEST(RngTest, MapsRangesWithoutStdDistributions) {
  Rng a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.Below(1000), b.Below(1000));
  Rng c(1);
  std::vector<int> hist(6, 0);
  for (int i = 0; i < 60000; ++i) ++hist[c.Range(0, 5)];
  for (int h : hist) EXPECT_NEAR(h, 10000, 500);
  // The exact stream is fixed by the standard's mt19937_64 definition.
  Rng d(5489);
  EXPECT_EQ(d.Next(), 14514284786278117030ULL);
}

TEST(NamesTest, DistinctPronounceableAndNotReserved) {
  Rng rng(3);
  const std::vector<std::string> names = InventNames(500, {"Bobo"}, &rng);
  ASSERT_EQ(names.size(), 500u);
  std::set<std::string> firsts;
  for (const std::string& name : names) {
    const std::string first = name.substr(0, name.find(' '));
    EXPECT_TRUE(firsts.insert(first).second) << "first name repeated: " << name;
    EXPECT_NE(first, "Bobo");
    EXPECT_GE(first.size(), 4u);
    EXPECT_TRUE(std::isupper(static_cast<unsigned char>(first[0]))) << name;
  }
}

TEST_F(CorpusTest, SameSeedGivesIdenticalFiles) {
  const std::string other = testing::MakeTempDir("corpus_again");
  ASSERT_THAT(GenerateCorpus(SmallOptions(), other), IsOk());
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(*dir_)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), *dir_).string();
    EXPECT_EQ(ReadText(entry.path().string()), ReadText(other + "/" + rel)) << rel;
    ++files;
  }
  EXPECT_EQ(files, 9);  // train, valid, kb, manifest and the 5 task files
}

TEST_F(CorpusTest, DifferentSeedGivesDifferentCorpus) {
  const std::string other = testing::MakeTempDir("corpus_seed");
  ASSERT_THAT(GenerateCorpus(SmallOptions(kSeed + 1), other), IsOk());
  for (const char* file : {"train.txt", "valid.txt", "kb.json", "tasks/knowledge_gen.jsonl",
                           "tasks/arithmetic.jsonl", "tasks/stories.jsonl"}) {
    EXPECT_NE(ReadText(*dir_ + "/" + file), ReadText(other + "/" + file)) << file;
  }
}

TEST_F(CorpusTest, TaskFilesDoNotDependOnTrainingSize) {
  const std::string other = testing::MakeTempDir("corpus_size");
  CorpusOptions options = SmallOptions();
  options.train_tokens_approx = 50'000;
  ASSERT_THAT(GenerateCorpus(options, other), IsOk());
  for (const char* file :
       {"kb.json", "tasks/knowledge_gen.jsonl", "tasks/knowledge_mc.jsonl",
        "tasks/arithmetic.jsonl", "tasks/stories.jsonl", "tasks/retrieval.jsonl"}) {
    EXPECT_EQ(ReadText(*dir_ + "/" + file), ReadText(other + "/" + file)) << file;
  }
  EXPECT_LT(ReadText(other + "/train.txt").size(), 200'000u);
}

TEST_F(CorpusTest, SizesAndDocumentShape) {
  const double target = SmallOptions().train_tokens_approx * kBytesPerTokenEstimate;
  EXPECT_NEAR(static_cast<double>(train_->size()), target, 2000);
  EXPECT_EQ(static_cast<int64_t>(train_->size()), stats_->train_bytes);
  ASSERT_EQ(train_->back(), '\n');
  const std::vector<std::string> docs = SplitDocuments(*train_);
  EXPECT_EQ(static_cast<int64_t>(docs.size()), stats_->train_documents);
  size_t longest = 0;
  for (const std::string& doc : docs) {
    ASSERT_FALSE(doc.empty());
    ASSERT_EQ(doc.find("\n\n"), std::string::npos);
    longest = std::max(longest, doc.size());
    for (char c : doc) ASSERT_TRUE(c == '\n' || (c >= 32 && c < 127)) << doc;
  }
  EXPECT_LT(longest, 1000u);  // about 250 tokens at most
  // Every kind of document gets roughly its byte share.
  for (const auto& [kind, bytes] : stats_->train_bytes_by_kind) {
    EXPECT_GT(bytes, stats_->train_bytes / 8) << kind;
    EXPECT_LT(bytes, stats_->train_bytes * 2 / 5) << kind;
  }
  EXPECT_EQ(stats_->train_bytes_by_kind.size(), 5u);
}

TEST_F(CorpusTest, TaskFilesParseBack) {
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite suite, tasks::LoadTaskDir(*dir_ + "/tasks"));
  const CorpusOptions o = SmallOptions();
  EXPECT_EQ(suite.generation.size(),
            static_cast<size_t>(o.knowledge_items + o.arithmetic_items + o.story_items));
  EXPECT_EQ(suite.multiple_choice.size(), static_cast<size_t>(o.knowledge_items));
  size_t documents = 0, queries = 0;
  for (const tasks::RetrievalItem& item : suite.retrieval) {
    EXPECT_GE(item.documents.size(), 16u);
    EXPECT_LE(item.documents.size(), 17u);
    documents += item.documents.size();
    queries += item.queries.size();
  }
  EXPECT_EQ(documents, static_cast<size_t>(o.num_entities));  // every entity, once
  EXPECT_EQ(queries, documents);
}

TEST(CorpusOptionsTest, RejectsBadOptions) {
  CorpusOptions o;
  EXPECT_THAT(ValidateCorpusOptions(o), IsOk());
  o.num_entities = 3;
  EXPECT_THAT(ValidateCorpusOptions(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = CorpusOptions();
  o.held_out_pair_permille = 0;
  EXPECT_THAT(ValidateCorpusOptions(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = CorpusOptions();
  o.mix = {50, 50, 50, 0, 0};
  EXPECT_THAT(ValidateCorpusOptions(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = CorpusOptions();
  o.mc_blocks.max_questions = 0;
  EXPECT_THAT(ValidateCorpusOptions(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = CorpusOptions();
  o.mc_blocks.drill_percent = 101;
  EXPECT_THAT(ValidateCorpusOptions(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = CorpusOptions();
  o.train_tokens_approx = 10;
  EXPECT_THAT(GenerateCorpus(o, testing::MakeTempDir("corpus_bad")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DocMixTest, ParsesEveryKindOnceSummingTo100) {
  PG_ASSERT_OK_AND_ASSIGN(
      DocMix mix, ParseDocMix("story=10,profile=20,qa=20,multiple_choice=40,arithmetic=10"));
  EXPECT_EQ(mix, (DocMix{20, 20, 40, 10, 10}));
  EXPECT_EQ(DocMixString(mix), "profile=20,qa=20,multiple_choice=40,arithmetic=10,story=10");
  PG_ASSERT_OK_AND_ASSIGN(DocMix round_trip, ParseDocMix(DocMixString(DefaultDocMix())));
  EXPECT_EQ(round_trip, DefaultDocMix());
  for (const char* bad : {"profile=20,qa=20,multiple_choice=40,arithmetic=10",  // no story
                          "profile=20,qa=20,multiple_choice=40,arithmetic=10,story=20",  // 110
                          "profile=20,qa=20,multiple_choice=40,arithmetic=10,poems=10",
                          "profile=20,profile=20,multiple_choice=40,arithmetic=10,story=10",
                          "profile=x,qa=20,multiple_choice=40,arithmetic=30,story=10", ""}) {
    EXPECT_THAT(ParseDocMix(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

// A mixture of nothing but multiple choice gives only multiple-choice blocks and drills.
TEST(DocMixTest, MixtureDecidesTheDocumentKinds) {
  CorpusOptions o = SmallOptions();
  o.train_tokens_approx = 20'000;
  o.mix = {0, 0, 100, 0, 0};
  o.mc_blocks.drill_percent = 50;
  const std::string dir = testing::MakeTempDir("corpus_mix");
  PG_ASSERT_OK_AND_ASSIGN(CorpusStats stats, GenerateCorpus(o, dir));
  EXPECT_EQ(stats.train_documents_by_kind.size(), 1u);
  EXPECT_EQ(stats.train_documents_by_kind.count("multiple_choice"), 1u);
  int drills = 0, blocks = 0;
  for (const std::string& doc : SplitDocuments(ReadText(dir + "/train.txt"))) {
    (doc.rfind("A. ", 0) == 0 ? drills : blocks) += 1;
    EXPECT_TRUE(doc.rfind("A. ", 0) == 0 || doc.rfind("Q: ", 0) == 0) << doc;
  }
  EXPECT_GT(drills, 20);
  EXPECT_GT(blocks, 20);
}

TEST(TextTemplateTest, FillsAndSplits) {
  EXPECT_EQ(Fill("{N} lives in {V}.", {{'N', "Bobo"}, {'V', "the red house"}}),
            "Bobo lives in the red house.");
  EXPECT_EQ(Fill("{Q} stays {", {}), "{Q} stays {");
  EXPECT_EQ(LiteralPieces("Where does {N} live?"),
            (std::vector<std::string>{"Where does ", " live?"}));
}

}  // namespace
}  // namespace prunegate::corpus
