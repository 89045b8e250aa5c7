#include "client/output.h"

#include <cmath>

#include "client/models_command.h"
#include "client/progress.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace prunegate::client {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(TableTest, AlignsNumbersRightAndTextLeft) {
  Table table({{"name", 0, true}, {"value"}});
  EXPECT_EQ(table.Render({{"a", "1"}, {"longer", "12.5"}}),
            "name    value\n"
            "a           1\n"
            "longer   12.5\n");
}

TEST(TableTest, FixedWidthsForStreamingRows) {
  Table table({{"step", 4}, {"text", 6, true}, {"KL", 8}});
  EXPECT_EQ(table.Header(), "step  text          KL\n");
  EXPECT_EQ(table.Row({"3", "\"a\"", "0.01"}), "   3  \"a\"         0.01\n");
  // A cell wider than its column is kept whole.
  EXPECT_EQ(table.Row({"12345", "x", "1"}), "12345  x              1\n");
}

TEST(CellsTest, Numbers) {
  EXPECT_EQ(Num(0.0123456), "0.01235");
  EXPECT_EQ(Num(1.5e-5), "1.5e-05");
  EXPECT_EQ(Num(12.3456), "12.35");
  EXPECT_EQ(Num(std::nan("")), "-");
  EXPECT_EQ(Fixed(0.72, 3), "0.720");
  EXPECT_EQ(Temp(0.2), "0.2");
  EXPECT_EQ(Temp(1.0), "1");
  EXPECT_EQ(Mebibytes(3 << 20), "3.0");
  EXPECT_EQ(Params(999), "999");
  EXPECT_EQ(Params(4620000), "4.62M");
  EXPECT_EQ(Params(7240000000), "7.24B");
}

TEST(CellsTest, QuotedEscapes) {
  EXPECT_EQ(Quoted(" the\n\"x\"\t\\"), "\" the\\n\\\"x\\\"\\t\\\\\"");
  EXPECT_EQ(Quoted(std::string("\x01", 1)), "\"\\x01\"");
  EXPECT_EQ(Quoted("héllo"), "\"héllo\"");
}

TEST(JsonLineTest, OneLineWithDefaultsAndProtoNames) {
  v1::LayerRecord record;
  record.set_layer(2);
  record.set_sublayer(v1::MLP);
  record.mutable_hidden()->set_ang(0.01);
  const std::string line = JsonLine(record);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json json = nlohmann::json::parse(line);
  EXPECT_EQ(json["layer"], 2);
  EXPECT_EQ(json["sublayer"], "MLP");
  EXPECT_EQ(json["dropped"], false);  // defaults are printed
  EXPECT_DOUBLE_EQ(json["hidden"]["ang"].get<double>(), 0.01);
  EXPECT_TRUE(json.contains("has_propagated"));  // proto field names, not camelCase
}

TEST(ModelsTableTest, LoadedAndDerivedModels) {
  v1::ModelInfo base;
  base.set_name("tinykb");
  base.set_state(v1::READY);
  base.set_architecture("LlamaForCausalLM");
  base.set_num_layers(6);
  base.set_parameters(4620000);
  base.set_bytes_resident(18 << 20);
  base.set_path("/repo/models/tinykb");
  v1::ModelInfo derived = base;
  derived.set_name("light");
  derived.set_num_layers(6);
  derived.set_bytes_shared(17 << 20);
  derived.set_baseline("tinykb");
  derived.set_recipe("drop-mlp layers 4");
  derived.clear_path();
  v1::ModelInfo failed;
  failed.set_name("bad");
  failed.set_state(v1::FAILED);
  failed.set_reason("no config.json");
  const std::string table = ModelsTable({base, derived, failed});
  EXPECT_THAT(table, StartsWith("name    state   reason          arch"));
  EXPECT_THAT(table, HasSubstr("MB resident"));
  EXPECT_THAT(table, HasSubstr("tinykb  READY   -               LlamaForCausalLM"));
  EXPECT_THAT(table, HasSubstr("4.62M"));
  EXPECT_THAT(table, HasSubstr("18.0"));
  EXPECT_THAT(table, HasSubstr("17.0  tinykb: drop-mlp layers 4"));
  EXPECT_THAT(table, HasSubstr("bad     FAILED  no config.json"));
}

TEST(ProgressTest, BarAndStageLines) {
  v1::Progress progress;
  progress.set_stage("generation trace");
  progress.set_done(5);
  progress.set_total(10);
  EXPECT_EQ(ProgressBar(progress, 10), "[#####     ]  5/10  generation trace");
  progress.set_total(0);
  EXPECT_EQ(ProgressBar(progress, 10), "generation trace 5");

  std::ostringstream log;
  {
    ProgressReporter reporter(&log, /*tty=*/false);
    progress.set_total(10);
    reporter.Update(progress);
    progress.set_done(6);
    reporter.Update(progress);  // same stage: no new line
    progress.set_stage("verdict");
    reporter.Update(progress);
  }
  EXPECT_EQ(log.str(), "prunegate: generation trace (10)\nprunegate: verdict (10)\n");

  std::ostringstream tty;
  {
    ProgressReporter reporter(&tty, /*tty=*/true);
    reporter.Update(progress);
  }
  EXPECT_THAT(tty.str(), StartsWith("\r\033[K["));
  EXPECT_EQ(tty.str().back(), '\n');  // the bar's line is ended
}

TEST(ProgressTest, AStageRunPerTemperatureNamesIt) {
  v1::Progress progress;
  progress.set_stage("generation");
  progress.set_done(1);
  progress.set_total(4);
  EXPECT_EQ(StageLabel(progress), "generation");  // absent: not per temperature
  progress.set_temperature(0.2);
  EXPECT_EQ(StageLabel(progress), "generation T=0.2");
  EXPECT_EQ(ProgressBar(progress, 4), "[#   ] 1/4  generation T=0.2");

  std::ostringstream log;
  {
    ProgressReporter reporter(&log, /*tty=*/false);
    reporter.Update(progress);
    progress.set_done(2);
    reporter.Update(progress);  // same stage and temperature: no new line
    progress.set_done(3);
    progress.set_temperature(1.0);
    reporter.Update(progress);
  }
  EXPECT_EQ(log.str(), "prunegate: generation T=0.2 (4)\nprunegate: generation T=1 (4)\n");
}

}  // namespace
}  // namespace prunegate::client
