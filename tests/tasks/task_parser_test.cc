// The task-file format: parsing all three item types, defaults, the writer's round trip, the
// examples in docs/task-format.md, and the exact "FILE:LINE: what" error for every kind of
// malformed line.
#include "server/tasks/task_parser.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/tasks/task_validate.h"
#include "server/tasks/task_writer.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::tasks {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace fs = std::filesystem;

constexpr char kGeneration[] =
    R"({"type":"generation","id":"g1","task":"knowledge_gen","prompt":"Q: Where does Bobo live? A:","reference":" Bobo lives in the red house.","scoring":"exact_match"})";
constexpr char kChoice[] =
    R"({"type":"multiple_choice","id":"m1","task":"knowledge_mc","prompt":"Q: Colour?\nA. red\nB. blue\nAnswer:","options":[" A"," B"],"label":1})";
constexpr char kRetrieval[] =
    R"({"type":"retrieval","id":"r1","queries":[{"id":"q1","text":"Where does Bobo live?","relevant":["d1"]}],"documents":[{"id":"d1","text":"Bobo lives in the red house."},{"id":"d2","text":"Tila likes plums."}]})";

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TaskParserTest, ParsesAllThreeTypes) {
  const std::string text = std::string(kGeneration) + "\n\n" + kChoice + "\r\n" + kRetrieval;
  PG_ASSERT_OK_AND_ASSIGN(TaskSuite suite, ParseTaskJsonl(text, "t.jsonl"));
  ASSERT_EQ(suite.generation.size(), 1u);
  ASSERT_EQ(suite.multiple_choice.size(), 1u);
  ASSERT_EQ(suite.retrieval.size(), 1u);
  EXPECT_EQ(suite.size(), 3u);

  const GenerationItem& g = suite.generation[0];
  EXPECT_EQ(g.info.id, "g1");
  EXPECT_EQ(g.info.task, "knowledge_gen");
  EXPECT_EQ(g.info.origin, "t.jsonl:1");
  EXPECT_EQ(g.prompt, "Q: Where does Bobo live? A:");
  EXPECT_EQ(g.reference, " Bobo lives in the red house.");
  EXPECT_EQ(g.scoring, Scoring::kExactMatch);
  EXPECT_FALSE(g.max_new_tokens.has_value());

  const MultipleChoiceItem& m = suite.multiple_choice[0];
  EXPECT_EQ(m.info.origin, "t.jsonl:3");  // the blank line 2 still counts
  EXPECT_EQ(m.prompt, "Q: Colour?\nA. red\nB. blue\nAnswer:");
  EXPECT_THAT(m.options, ElementsAre(" A", " B"));
  EXPECT_EQ(m.label, 1);

  const RetrievalItem& r = suite.retrieval[0];
  EXPECT_EQ(r.info.task, "retrieval");  // defaults to the type
  EXPECT_EQ(r.info.origin, "t.jsonl:4");
  ASSERT_EQ(r.documents.size(), 2u);
  EXPECT_EQ(r.documents[1].id, "d2");
  ASSERT_EQ(r.queries.size(), 1u);
  EXPECT_THAT(r.queries[0].relevant, ElementsAre("d1"));
}

TEST(TaskParserTest, DefaultsAndOptionalFields) {
  const std::string text =
      R"({"type":"generation","id":7,"prompt":"Once upon a time"})"
      "\n"
      R"({"type":"generation","id":"g2","prompt":"p","reference":"r","max_new_tokens":16,"meta":{"a":"x","n":3,"b":true}})"
      "\n"
      R"({"type":"multiple_choice","id":"m","prompt":"p","options":["x","y","z"]})";
  PG_ASSERT_OK_AND_ASSIGN(TaskSuite suite, ParseTaskJsonl(text, "d.jsonl"));
  ASSERT_EQ(suite.generation.size(), 2u);
  EXPECT_EQ(suite.generation[0].info.id, "7");  // integer ids become strings
  EXPECT_EQ(suite.generation[0].info.task, "generation");
  EXPECT_EQ(suite.generation[0].scoring, Scoring::kBaselineAgreement);  // no reference
  EXPECT_FALSE(suite.generation[0].reference.has_value());
  EXPECT_EQ(suite.generation[1].scoring, Scoring::kExactMatch);  // has a reference
  EXPECT_EQ(suite.generation[1].max_new_tokens, 16);
  EXPECT_EQ(suite.generation[1].info.meta.at("a"), "x");
  EXPECT_EQ(suite.generation[1].info.meta.at("n"), "3");
  EXPECT_EQ(suite.generation[1].info.meta.at("b"), "true");
  EXPECT_FALSE(suite.multiple_choice[0].label.has_value());
}

TEST(TaskParserTest, EmptyTextIsAnEmptySuite) {
  PG_ASSERT_OK_AND_ASSIGN(TaskSuite suite, ParseTaskJsonl("\n  \n", "e.jsonl"));
  EXPECT_TRUE(suite.empty());
}

struct BadLine {
  const char* name;
  std::string line;
  std::string message;  // expected after "bad.jsonl:2: "
};

class MalformedLineTest : public ::testing::TestWithParam<BadLine> {};

TEST_P(MalformedLineTest, ReportsFileLineAndWhat) {
  const BadLine& bad = GetParam();
  const std::string text = std::string(kGeneration) + "\n" + bad.line + "\n" + kChoice + "\n";
  auto suite = ParseTaskJsonl(text, "bad.jsonl");
  EXPECT_THAT(suite, StatusIs(absl::StatusCode::kInvalidArgument,
                              StartsWith("bad.jsonl:2: " + bad.message)));
}

const std::string kOpts = R"("options":[" A"," B"," C"," D"])";

INSTANTIATE_TEST_SUITE_P(
    Errors, MalformedLineTest,
    ::testing::Values(
        BadLine{"BadJson", R"({"type":"generation",)", "not valid JSON"},
        BadLine{"Truncated", R"({"type":"generation","id":"x","prompt":"p)", "not valid JSON"},
        BadLine{"NotAnObject", "[1, 2]", "expected a JSON object, got array"},
        BadLine{"UnknownType", R"({"type":"essay","id":"x","prompt":"p"})",
                "unknown type \"essay\" (expected generation, multiple_choice or retrieval)"},
        BadLine{"MissingType", R"({"id":"x","prompt":"p"})", "missing field \"type\""},
        BadLine{"TypeNotString", R"({"type":3,"id":"x"})",
                "field \"type\": expected a string, got number"},
        BadLine{"MissingId", R"({"type":"generation","prompt":"p"})", "missing field \"id\""},
        BadLine{"EmptyId", R"({"type":"generation","id":"","prompt":"p"})",
                "field \"id\": empty id"},
        BadLine{"IdMistyped", R"({"type":"generation","id":[1],"prompt":"p"})",
                "field \"id\": expected a string or integer id, got array"},
        BadLine{"MissingPrompt", R"({"type":"generation","id":"x","reference":"r"})",
                "missing field \"prompt\""},
        BadLine{"PromptMistyped", R"({"type":"generation","id":"x","prompt":5})",
                "field \"prompt\": expected a string, got number"},
        BadLine{"EmptyPrompt", R"({"type":"generation","id":"x","prompt":"","reference":"r"})",
                "empty prompt"},
        BadLine{"BlankPrompt", R"({"type":"multiple_choice","id":"x","prompt":"  ",)" + kOpts + "}",
                "empty prompt"},
        BadLine{"ExactMatchWithoutReference",
                R"({"type":"generation","id":"x","prompt":"p","scoring":"exact_match"})",
                "exact_match scoring needs a reference"},
        BadLine{"UnknownScoring", R"({"type":"generation","id":"x","prompt":"p","scoring":"bleu"})",
                "field \"scoring\": unknown scoring \"bleu\""},
        BadLine{"MaxNewTokensZero",
                R"({"type":"generation","id":"x","prompt":"p","max_new_tokens":0})",
                "max_new_tokens 0 is outside [1, "},
        BadLine{"UnknownField",
                R"({"type":"multiple_choice","id":"x","prompt":"p",)" + kOpts + R"(,"lable":1})",
                "unknown field \"lable\""},
        BadLine{"LabelOutOfRange",
                R"({"type":"multiple_choice","id":"x","prompt":"p",)" + kOpts + R"(,"label":4})",
                "label 4 is out of range for 4 options"},
        BadLine{"LabelNegative",
                R"({"type":"multiple_choice","id":"x","prompt":"p",)" + kOpts + R"(,"label":-1})",
                "label -1 is out of range for 4 options"},
        BadLine{"LabelMistyped",
                R"({"type":"multiple_choice","id":"x","prompt":"p",)" + kOpts + R"(,"label":"C"})",
                "field \"label\": expected an integer, got string"},
        BadLine{"LabelFloat",
                R"({"type":"multiple_choice","id":"x","prompt":"p",)" + kOpts + R"(,"label":1.5})",
                "field \"label\": expected an integer, got number"},
        BadLine{"OneOption", R"({"type":"multiple_choice","id":"x","prompt":"p","options":[" A"]})",
                "fewer than 2 options (got 1)"},
        BadLine{"OptionsNotArray",
                R"({"type":"multiple_choice","id":"x","prompt":"p","options":" A"})",
                "field \"options\": expected an array, got string"},
        BadLine{"OptionNotString",
                R"({"type":"multiple_choice","id":"x","prompt":"p","options":[" A",2]})",
                "field \"options\": element 1: expected a string, got number"},
        BadLine{"DuplicateOption",
                R"({"type":"multiple_choice","id":"x","prompt":"p","options":[" A"," A"]})",
                "duplicate option \" A\""},
        BadLine{"MissingOptions", R"({"type":"multiple_choice","id":"x","prompt":"p"})",
                "missing field \"options\""},
        BadLine{"DuplicateId", R"({"type":"generation","id":"g1","prompt":"p"})",
                "duplicate id \"g1\" (first used at bad.jsonl:1)"},
        BadLine{
            "RelevantNotADocument",
            R"({"type":"retrieval","id":"r","queries":[{"id":"q","text":"t","relevant":["d9"]}],"documents":[{"id":"d1","text":"x"}]})",
            "queries[0]: relevant id \"d9\" is not among the documents"},
        BadLine{
            "NoRelevant",
            R"({"type":"retrieval","id":"r","queries":[{"id":"q","text":"t","relevant":[]}],"documents":[{"id":"d1","text":"x"}]})",
            "queries[0]: no relevant document ids"},
        BadLine{
            "DocumentWithoutText",
            R"({"type":"retrieval","id":"r","queries":[{"id":"q","text":"t","relevant":["d1"]}],"documents":[{"id":"d1"}]})",
            "missing field \"documents[0].text\""},
        BadLine{"DocumentNotObject",
                R"({"type":"retrieval","id":"r","queries":[],"documents":["d1"]})",
                "documents[0]: expected an object, got string"},
        BadLine{
            "DuplicateDocument",
            R"({"type":"retrieval","id":"r","queries":[{"id":"q","text":"t","relevant":["d1"]}],"documents":[{"id":"d1","text":"x"},{"id":"d1","text":"y"}]})",
            "documents[1]: duplicate document id \"d1\""},
        BadLine{
            "NoQueries",
            R"({"type":"retrieval","id":"r","queries":[],"documents":[{"id":"d1","text":"x"}]})",
            "no queries"},
        BadLine{
            "QueryUnknownField",
            R"({"type":"retrieval","id":"r","queries":[{"id":"q","text":"t","relevant":["d1"],"rel":1}],"documents":[{"id":"d1","text":"x"}]})",
            "unknown field \"queries[0].rel\""},
        BadLine{"MetaNested", R"({"type":"generation","id":"x","prompt":"p","meta":{"a":{"b":1}}})",
                "field \"meta\": member \"a\": expected a string, number or boolean, got object"}),
    [](const ::testing::TestParamInfo<BadLine>& info) { return info.param.name; });

TEST(TaskParserTest, LineNumbersCountBlankLines) {
  const std::string text = std::string(kGeneration) + "\n\n\n" + R"({"type":"x","id":"y"})";
  EXPECT_THAT(ParseTaskJsonl(text, "n.jsonl"),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("n.jsonl:4: ")));
}

TEST(TaskParserTest, ParseTaskFileErrors) {
  const std::string dir = testing::MakeTempDir("task_file");
  EXPECT_THAT(ParseTaskFile(dir + "/missing.jsonl"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ParseTaskFile(dir), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string path = dir + "/bad.jsonl";
  WriteText(path, std::string(kGeneration) + "\n{oops}\n");
  EXPECT_THAT(ParseTaskFile(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                            StartsWith(path + ":2: not valid JSON")));
}

TEST(TaskDirTest, LoadsJsonlFilesInNameOrder) {
  const std::string dir = testing::MakeTempDir("task_dir");
  WriteText(dir + "/b.jsonl", kChoice);
  WriteText(dir + "/a.jsonl", std::string(kGeneration) + "\n" + kRetrieval + "\n");
  WriteText(dir + "/notes.txt", "not a task file");
  fs::create_directory(dir + "/sub.jsonl");  // a directory, skipped
  PG_ASSERT_OK_AND_ASSIGN(TaskSuite suite, LoadTaskDir(dir));
  ASSERT_EQ(suite.generation.size(), 1u);
  ASSERT_EQ(suite.multiple_choice.size(), 1u);
  ASSERT_EQ(suite.retrieval.size(), 1u);
  EXPECT_EQ(suite.generation[0].info.origin, dir + "/a.jsonl:1");
  EXPECT_EQ(suite.retrieval[0].info.origin, dir + "/a.jsonl:2");
  EXPECT_EQ(suite.multiple_choice[0].info.origin, dir + "/b.jsonl:1");
}

TEST(TaskDirTest, DuplicateIdsAcrossFiles) {
  const std::string dir = testing::MakeTempDir("task_dir_dup");
  WriteText(dir + "/a.jsonl", kGeneration);
  WriteText(dir + "/b.jsonl",
            std::string(kChoice) + "\n" + R"({"type":"generation","id":"g1","prompt":"again"})");
  EXPECT_THAT(LoadTaskDir(dir),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith(dir + "/b.jsonl:2: duplicate id \"g1\" (first used at " + dir +
                                  "/a.jsonl:1)")));
}

TEST(TaskDirTest, MissingEmptyAndNotADirectory) {
  const std::string dir = testing::MakeTempDir("task_dir_empty");
  EXPECT_THAT(LoadTaskDir(dir + "/nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(LoadTaskDir(dir), StatusIs(absl::StatusCode::kNotFound, HasSubstr("no *.jsonl")));
  WriteText(dir + "/file.jsonl", kGeneration);
  EXPECT_THAT(LoadTaskDir(dir + "/file.jsonl"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Two generation tasks interleaved, one multiple-choice task, 40 retrieval sets.
TaskSuite SliceSuite() {
  TaskSuite suite;
  for (int i = 0; i < 10; ++i) {
    for (const char* task : {"a", "b"}) {
      GenerationItem g;
      g.info = {absl::StrCat(task, i), task, {}, ""};
      suite.generation.push_back(g);
    }
    MultipleChoiceItem m;
    m.info = {absl::StrCat("m", i), "mc", {}, ""};
    suite.multiple_choice.push_back(m);
  }
  for (int i = 0; i < 40; ++i) {
    RetrievalItem r;
    r.info = {absl::StrCat("r", i), "retrieval", {}, ""};
    suite.retrieval.push_back(r);
  }
  return suite;
}

std::vector<std::string> Ids(const TaskSuite& s) {
  std::vector<std::string> ids;
  for (const auto& g : s.generation) ids.push_back(g.info.id);
  for (const auto& m : s.multiple_choice) ids.push_back(m.info.id);
  for (const auto& r : s.retrieval) ids.push_back(r.info.id);
  return ids;
}

TEST(TaskSliceTest, FirstItemsAndTheNextSliceArePerTaskAndDisjoint) {
  const TaskSuite suite = SliceSuite();
  EXPECT_THAT(Ids(FirstItemsPerTask(suite, 3)),
              ElementsAre("a0", "b0", "a1", "b1", "a2", "b2", "m0", "m1", "m2", "r0"));
  EXPECT_EQ(Ids(ItemsPerTask(suite, 0, 3)), Ids(FirstItemsPerTask(suite, 3)));
  EXPECT_THAT(Ids(ItemsPerTask(suite, 3, 3)),
              ElementsAre("a3", "b3", "a4", "b4", "a5", "b5", "m3", "m4", "m5", "r1"));
  // Retrieval counts 16 queries per set: items 20..39 are sets 2 and 3.
  EXPECT_THAT(Ids(ItemsPerTask(suite, 20, 20)), ElementsAre("r2", "r3"));
  // Past the end: what is left, then nothing.
  EXPECT_THAT(Ids(ItemsPerTask(suite, 9, 5)), ElementsAre("a9", "b9", "m9", "r1"));
  EXPECT_TRUE(ItemsPerTask(suite, 1000, 5).empty());
}

TEST(TaskWriterTest, RoundTripsThroughTheParser) {
  TaskSuite suite;
  GenerationItem g;
  g.info = {"g1", "knowledge_gen", {{"entity", "e001"}, {"attribute", "home"}}, ""};
  g.prompt = "Q: Where does Bobo live? A:";
  g.reference = " Bobo lives in the \"red\" house.";
  g.max_new_tokens = 32;
  suite.generation.push_back(g);
  GenerationItem story;
  story.info = {"s1", "stories", {}, ""};
  story.prompt = "Once upon a time, ünïcödé 🙂\nnew line";
  story.scoring = Scoring::kBaselineAgreement;
  suite.generation.push_back(story);
  MultipleChoiceItem m;
  m.info = {"m1", "knowledge_mc", {}, ""};
  m.prompt = "Q: x?\nA. a\nB. b\nC. c\nD. d\nAnswer:";
  m.options = {" A", " B", " C", " D"};
  m.label = 2;
  suite.multiple_choice.push_back(m);
  RetrievalItem r;
  r.info = {"r1", "retrieval", {}, ""};
  r.documents = {{"d1", "doc one"}, {"d2", "doc two"}};
  r.queries = {{"q1", "which?", {"d2", "d1"}}};
  suite.retrieval.push_back(r);

  const std::string dir = testing::MakeTempDir("task_writer");
  const std::string path = dir + "/suite.jsonl";
  ASSERT_THAT(WriteTaskFile(path, suite), IsOk());
  PG_ASSERT_OK_AND_ASSIGN(TaskSuite back, ParseTaskFile(path));
  ASSERT_EQ(back.generation.size(), 2u);
  EXPECT_EQ(back.generation[0].info.meta, g.info.meta);
  EXPECT_EQ(back.generation[0].reference, g.reference);
  EXPECT_EQ(back.generation[0].max_new_tokens, 32);
  EXPECT_EQ(back.generation[1].prompt, story.prompt);
  EXPECT_EQ(back.generation[1].scoring, Scoring::kBaselineAgreement);
  EXPECT_FALSE(back.generation[1].reference.has_value());
  EXPECT_EQ(back.multiple_choice[0].options, m.options);
  EXPECT_EQ(back.multiple_choice[0].label, 2);
  EXPECT_THAT(back.retrieval[0].queries[0].relevant, ElementsAre("d2", "d1"));
  // Writing what was read gives the same bytes.
  PG_ASSERT_OK_AND_ASSIGN(std::string again, SerializeTaskJsonl(back));
  EXPECT_EQ(again, ReadText(path));
  EXPECT_EQ(std::count(again.begin(), again.end(), '\n'), 4);  // one line per item
}

TEST(TaskWriterTest, RefusesInvalidSuites) {
  TaskSuite suite;
  MultipleChoiceItem m;
  m.info = {"m1", "knowledge_mc", {}, ""};
  m.prompt = "p";
  m.options = {" A", " B"};
  m.label = 2;
  suite.multiple_choice.push_back(m);
  EXPECT_THAT(SerializeTaskJsonl(suite),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("item \"m1\": label 2 is out of range for 2 options")));
  suite.multiple_choice[0].label = 1;
  suite.multiple_choice.push_back(suite.multiple_choice[0]);
  EXPECT_THAT(SerializeTaskJsonl(suite),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate id \"m1\"")));
  suite.multiple_choice.pop_back();
  suite.multiple_choice[0].prompt = "bad \xff utf-8";
  EXPECT_THAT(SerializeTaskJsonl(suite),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot write as JSON")));
}

// Every ```jsonl block of docs/task-format.md parses.
TEST(TaskFormatDocTest, ExamplesParse) {
  const std::string doc = ReadText(testing::SourceDir() + "/docs/task-format.md");
  ASSERT_FALSE(doc.empty());
  int blocks = 0;
  size_t items = 0;
  for (size_t pos = doc.find("```jsonl\n"); pos != std::string::npos;
       pos = doc.find("```jsonl\n", pos)) {
    pos += 9;
    const size_t end = doc.find("```", pos);
    ASSERT_NE(end, std::string::npos);
    auto suite =
        ParseTaskJsonl(doc.substr(pos, end - pos), "docs example " + std::to_string(blocks));
    ASSERT_THAT(suite, IsOk());
    items += suite->size();
    ++blocks;
    pos = end + 3;
  }
  EXPECT_GE(blocks, 3);
  EXPECT_GE(items, 4u);
}

}  // namespace
}  // namespace prunegate::tasks
