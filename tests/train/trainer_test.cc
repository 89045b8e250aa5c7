#include "tools/train/trainer.h"

#include <numeric>

#include "gtest/gtest.h"
#include "server/model/model.h"
#include "server/model/session.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "torch/torch.h"

namespace prunegate::train {
namespace {

using ::prunegate::testing::MakeTempDir;

Document Doc(std::vector<int32_t> ids, float answer_weight = 1.0f) {
  Document d;
  d.ids = std::move(ids);
  d.weights.assign(d.ids.size(), 1.0f);
  d.weights.back() = answer_weight;
  return d;
}

TEST(PackingTest, RowsStartAtDocumentBoundariesWithAlignedWeights) {
  std::vector<Document> docs = {Doc({5, 6, 7}, 3.0f), Doc({8, 9}), Doc({10, 11, 12, 13}, 2.0f)};
  std::vector<Row> rows = PackRows(docs, {0, 1, 2}, /*row_tokens=*/8, /*separator=*/1);
  ASSERT_EQ(rows.size(), 2u);
  // Row 0: [sep 5 6 7 sep 8 9 pad]; doc 2 (5 tokens with its separator) does not fit.
  EXPECT_EQ(rows[0].ids, (std::vector<int32_t>{1, 5, 6, 7, 1, 8, 9, 1}));
  EXPECT_EQ(rows[0].weights, (std::vector<float>{1, 1, 3, 1, 1, 1, 0}));
  EXPECT_EQ(rows[1].ids, (std::vector<int32_t>{1, 10, 11, 12, 13, 1, 1, 1}));
  EXPECT_EQ(rows[1].weights, (std::vector<float>{1, 1, 1, 2, 0, 0, 0}));
}

TEST(PackingTest, LongDocumentsSplitAndOrderIsDeterministic) {
  std::vector<int32_t> long_ids(20);
  std::iota(long_ids.begin(), long_ids.end(), 2);
  std::vector<Row> rows = PackRows({Doc(long_ids)}, {0}, 8, 1);
  ASSERT_EQ(rows.size(), 3u);  // 7 + 7 + 6 tokens
  for (const Row& r : rows) {
    EXPECT_EQ(r.ids.size(), 8u);
    EXPECT_EQ(r.weights.size(), 7u);
    EXPECT_EQ(r.ids[0], 1);
  }
  EXPECT_EQ(ShuffledOrder(100, 7, 3), ShuffledOrder(100, 7, 3));
  EXPECT_NE(ShuffledOrder(100, 7, 3), ShuffledOrder(100, 7, 4));
  auto order = ShuffledOrder(100, 7, 3);
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i);
}

TrainOptions TinyOptions() {
  TrainOptions o;
  ModelConfig& c = o.model;
  c.vocab_size = 24;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = true;
  c.rms_norm_eps = 1e-5;
  o.seq_len = 16;
  o.batch_size = 4;
  o.total_steps = 80;
  o.warmup_steps = 5;
  o.lr = 1e-2;
  o.min_lr = 1e-3;
  o.separator_id = 1;
  return o;
}

// Counting sequences: "start, start+1, ..." — learnable from the previous token alone.
std::vector<Document> CountingDocs() {
  std::vector<Document> docs;
  for (int32_t start = 2; start < 12; ++start) {
    std::vector<int32_t> ids;
    for (int32_t k = 0; k < 10; ++k) ids.push_back(start + k);
    docs.push_back(Doc(ids));
  }
  return docs;
}

TEST(TrainerTest, LossFallsOnALearnableTask) {
  PG_ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(TinyOptions(), CountingDocs()));
  double first = 0, last = 0;
  for (int i = 0; i < 80; ++i) {
    PG_ASSERT_OK_AND_ASSIGN(StepResult r, trainer->Step());
    if (i == 0) first = r.loss;
    last = r.loss;
    EXPECT_TRUE(std::isfinite(r.loss));
  }
  EXPECT_GT(first, 2.5);  // ~ln(24) at initialisation
  EXPECT_LT(last, 0.5 * first);
  EXPECT_EQ(trainer->step(), 80);
}

TEST(TrainerTest, ResumeContinuesExactly) {
  const std::string dir = MakeTempDir("pg-trainer");
  PG_ASSERT_OK_AND_ASSIGN(auto straight, Trainer::Create(TinyOptions(), CountingDocs()));
  std::vector<double> want;
  for (int i = 0; i < 12; ++i) want.push_back(straight->Step()->loss);

  PG_ASSERT_OK_AND_ASSIGN(auto first, Trainer::Create(TinyOptions(), CountingDocs()));
  for (int i = 0; i < 7; ++i) ASSERT_EQ(first->Step()->loss, want[i]);
  ASSERT_TRUE(first->SaveCheckpoint(dir + "/ckpt").ok());
  first.reset();
  PG_ASSERT_OK_AND_ASSIGN(auto resumed,
                          Trainer::Resume(dir + "/ckpt", TinyOptions(), CountingDocs()));
  EXPECT_EQ(resumed->step(), 7);
  for (int i = 7; i < 12; ++i) EXPECT_DOUBLE_EQ(resumed->Step()->loss, want[i]) << "step " << i;

  TrainOptions other = TinyOptions();
  other.model.hidden_size = 48;
  EXPECT_THAT(Trainer::Resume(dir + "/ckpt", other, CountingDocs()),
              ::prunegate::testing::StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(TrainerTest, ExportedModelLoadsAndGivesTheSameLogits) {
  const std::string dir = MakeTempDir("pg-export");
  PG_ASSERT_OK_AND_ASSIGN(auto trainer, Trainer::Create(TinyOptions(), CountingDocs()));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(trainer->Step().ok());
  ASSERT_TRUE(trainer->ExportModel(dir).ok());
  PG_ASSERT_OK_AND_ASSIGN(auto loaded, Model::Load(dir));
  EXPECT_TRUE(loaded->tied());
  c10::InferenceMode guard;
  auto a = Session::Create(loaded).value()->Feed({{1, 2, 3, 4}}).value();
  auto b = Session::Create(trainer->model()).value()->Feed({{1, 2, 3, 4}}).value();
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-6);
}

// Warmup then cosine; a later phase (schedule_start) warms up again from its first step and
// decays to min_lr at total_steps.
TEST(TrainerTest, ScheduleWarmsUpDecaysAndRestartsAtALaterPhase) {
  PG_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(TinyOptions(), CountingDocs()));
  const TrainOptions& o = t->options();
  EXPECT_DOUBLE_EQ(t->LearningRate(0), o.lr / 5);
  EXPECT_DOUBLE_EQ(t->LearningRate(4), o.lr);
  EXPECT_NEAR(t->LearningRate(42), (o.lr + o.min_lr) / 2, 2e-4);  // progress 37/75
  EXPECT_DOUBLE_EQ(t->LearningRate(80), o.min_lr);
  EXPECT_DOUBLE_EQ(t->LearningRate(500), o.min_lr);

  TrainOptions phase = TinyOptions();
  phase.total_steps = 200;
  phase.schedule_start = 80;
  phase.warmup_steps = 10;
  PG_ASSERT_OK_AND_ASSIGN(auto p, Trainer::Create(phase, CountingDocs()));
  EXPECT_DOUBLE_EQ(p->LearningRate(80), phase.lr / 10);
  EXPECT_DOUBLE_EQ(p->LearningRate(89), phase.lr);
  EXPECT_GT(p->LearningRate(89), p->LearningRate(120));
  EXPECT_DOUBLE_EQ(p->LearningRate(200), phase.min_lr);

  phase.schedule_start = 200;  // must lie before total_steps
  EXPECT_THAT(Trainer::Create(phase, CountingDocs()),
              ::prunegate::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TrainerTest, RejectsBadData) {
  EXPECT_FALSE(Trainer::Create(TinyOptions(), {}).ok());
  EXPECT_FALSE(Trainer::Create(TinyOptions(), {Doc({2, 99})}).ok());
}

}  // namespace
}  // namespace prunegate::train
