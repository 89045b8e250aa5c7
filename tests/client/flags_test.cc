#include "client/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace prunegate::client {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Values {
  std::string name;
  int64_t steps = 0;
  double temperature = 1;
  std::vector<double> temperatures;
  std::vector<int64_t> layers;
  bool json = false;
};

FlagSet MakeFlags(Values* v) {
  FlagSet flags("test cmd", "--name N", "A test command.");
  flags.AddString("name", &v->name, "N", "a name");
  flags.AddInt("steps", &v->steps, "N", "steps");
  flags.AddDouble("sample-temperature", &v->temperature, "T", "a temperature");
  flags.AddDoubleList("temperature", &v->temperatures, "T1,T2", "temperatures");
  flags.AddIntList("layers", &v->layers, "3,4", "layers");
  flags.AddBool("json", &v->json, "json output");
  return flags;
}

TEST(ParseListsTest, DoublesAndInts) {
  EXPECT_THAT(*ParseDoubleList("0.2,0.7, 1"), ElementsAre(0.2, 0.7, 1.0));
  EXPECT_THAT(*ParseIntList("3,4"), ElementsAre(3, 4));
  EXPECT_THAT(ParseDoubleList("0.2,,1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDoubleList(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseIntList("3,x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3,x")));
  EXPECT_THAT(ParseIntList("1.5"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FlagSetTest, SpaceAndEqualsForms) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  ASSERT_THAT(flags.Parse({"--name", "tinykb", "--steps=12", "--temperature", "0.2,1.0",
                           "--layers=3,4", "--json", "--sample-temperature", "0.8"}),
              IsOk());
  EXPECT_EQ(v.name, "tinykb");
  EXPECT_EQ(v.steps, 12);
  EXPECT_THAT(v.temperatures, ElementsAre(0.2, 1.0));
  EXPECT_THAT(v.layers, ElementsAre(3, 4));
  EXPECT_TRUE(v.json);
  EXPECT_DOUBLE_EQ(v.temperature, 0.8);
  EXPECT_TRUE(flags.IsSet("steps"));
  EXPECT_FALSE(flags.help_requested());
  EXPECT_TRUE(flags.positional().empty());
}

TEST(FlagSetTest, BoolTakesNoValueUnlessEquals) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  ASSERT_THAT(flags.Parse({"--json", "positional"}), IsOk());
  EXPECT_TRUE(v.json);
  EXPECT_THAT(flags.positional(), ElementsAre("positional"));
  ASSERT_THAT(flags.Parse({"--json=false"}), IsOk());
  EXPECT_FALSE(v.json);
  EXPECT_THAT(flags.Parse({"--json=maybe"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--json")));
}

TEST(FlagSetTest, Errors) {
  Values v;
  EXPECT_THAT(MakeFlags(&v).Parse({"--bogus", "1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown flag --bogus")));
  EXPECT_THAT(MakeFlags(&v).Parse({"-x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown flag -x")));
  EXPECT_THAT(MakeFlags(&v).Parse({"--name"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--name needs a value")));
  EXPECT_THAT(MakeFlags(&v).Parse({"--steps", "abc"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--steps: 'abc'")));
  EXPECT_THAT(MakeFlags(&v).Parse({"--temperature", "0.2;1"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--temperature")));
}

TEST(FlagSetTest, HelpAndDoubleDash) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  ASSERT_THAT(flags.Parse({"--help", "--", "--name", "x"}), IsOk());
  EXPECT_TRUE(flags.help_requested());
  EXPECT_THAT(flags.positional(), ElementsAre("--name", "x"));
  EXPECT_TRUE(v.name.empty());
  EXPECT_THAT(flags.NoPositional(), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("unexpected argument '--name'")));
}

TEST(FlagSetTest, StopAtPositionalLeavesTheCommand) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  ASSERT_THAT(flags.Parse({"--name", "a", "models", "list", "--bogus"},
                          /*stop_at_positional=*/true),
              IsOk());
  EXPECT_EQ(v.name, "a");
  EXPECT_THAT(flags.positional(), ElementsAre("models", "list", "--bogus"));
}

TEST(FlagSetTest, RequireAndExactlyOne) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  ASSERT_THAT(flags.Parse({"--name", "a", "--steps", "3"}), IsOk());
  EXPECT_THAT(flags.Require({"name", "steps"}), IsOk());
  EXPECT_THAT(flags.Require({"name", "layers"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing --layers")));
  EXPECT_THAT(flags.RequireExactlyOne({"steps", "layers"}), IsOk());
  EXPECT_THAT(
      flags.RequireExactlyOne({"name", "steps"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exactly one of --name, --steps")));
  EXPECT_THAT(flags.RequireExactlyOne({"json", "layers"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FlagSetTest, UsageListsFlagsBySection) {
  Values v;
  FlagSet flags = MakeFlags(&v);
  std::string extra;
  flags.BeginSection("global flags");
  flags.AddString("server", &extra, "ADDR", "the server");
  const std::string usage = flags.Usage();
  EXPECT_THAT(usage, HasSubstr("usage: prunegate test cmd --name N\n"));
  EXPECT_THAT(usage, HasSubstr("A test command."));
  EXPECT_THAT(usage, HasSubstr("\nflags:\n  --name N"));
  EXPECT_THAT(usage, HasSubstr("  --json "));
  EXPECT_THAT(usage, HasSubstr("\nglobal flags:\n  --server ADDR"));
}

TEST(WrapTest, BreaksAtSpacesWithIndent) {
  EXPECT_EQ(Wrap("aa bb cc", 5, 0), "aa bb\ncc");
  EXPECT_EQ(Wrap("aa bb cc", 7, 2), "aa bb\n  cc");
  EXPECT_EQ(Wrap("averyveryverylongword x", 5, 0), "averyveryverylongword\nx");
}

}  // namespace
}  // namespace prunegate::client
