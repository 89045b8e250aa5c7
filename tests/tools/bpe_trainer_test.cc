// The BPE trainer: tokenizer files that prunegate::LoadTokenizer loads, exact round trips on
// corpus text and arbitrary Unicode, single-digit tokens, single-token answer letters, compact
// encodings, and deterministic output (also across thread counts).
#include "tools/bpe/bpe_trainer.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/model/byte_level.h"
#include "server/model/tokenizer.h"
#include "server/tasks/task_parser.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "tools/bpe/tokenizer_files.h"
#include "tools/bpe/tokenizer_stats.h"
#include "tools/bpe/word_counts.h"
#include "tools/corpus/corpus_generator.h"
#include "tools/corpus/rng.h"

namespace prunegate::bpe {
namespace {

using ::prunegate::testing::IsOk;
using ::prunegate::testing::StatusIs;

constexpr int kVocabSize = 1536;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Trains on `text` and writes the tokenizer into a fresh directory.
std::string TrainInto(const std::string& text, int threads, int vocab_size = kVocabSize) {
  auto counter = WordCounter::Create();
  EXPECT_THAT(counter, IsOk());
  EXPECT_THAT(counter->Add(text, threads), IsOk());
  BpeTrainerOptions options;
  options.vocab_size = vocab_size;
  auto bpe = TrainBpe(counter->counts(), options);
  EXPECT_THAT(bpe, IsOk());
  TokenizerFileOptions file_options;
  file_options.split_pattern = kSplitPattern;
  const std::string dir = testing::MakeTempDir("bpe");
  EXPECT_THAT(WriteTokenizerFiles(*bpe, file_options, dir), IsOk());
  return dir;
}

class BpeCorpusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::MakeTempDir("bpe_corpus");
    corpus::CorpusOptions options;
    options.seed = 11;
    options.train_tokens_approx = 2'000'000;  // ~5.7 MB
    ASSERT_THAT(corpus::GenerateCorpus(options, dir), IsOk());
    corpus_dir_ = new std::string(dir);
    train_ = new std::string(ReadText(dir + "/train.txt"));
    valid_ = new std::string(ReadText(dir + "/valid.txt"));
    tokenizer_dir_ = new std::string(TrainInto(*train_, /*threads=*/2));
    auto tokenizer = LoadTokenizer(*tokenizer_dir_);
    ASSERT_THAT(tokenizer, IsOk());
    tokenizer_ = tokenizer->release();
  }
  static void TearDownTestSuite() {
    delete corpus_dir_;
    delete train_;
    delete valid_;
    delete tokenizer_dir_;
    delete tokenizer_;
  }

  static std::vector<int64_t> Encode(const std::string& text, bool special = false) {
    auto ids = tokenizer_->Encode(text, special);
    EXPECT_THAT(ids, IsOk());
    return ids.ok() ? *ids : std::vector<int64_t>();
  }
  static void ExpectRoundTrip(const std::string& text) {
    const std::vector<int64_t> ids = Encode(text);
    auto decoded = tokenizer_->Decode(ids, /*skip_special_tokens=*/false);
    ASSERT_THAT(decoded, IsOk());
    ASSERT_EQ(*decoded, text);
  }

  static std::string* corpus_dir_;
  static std::string* train_;
  static std::string* valid_;
  static std::string* tokenizer_dir_;
  static Tokenizer* tokenizer_;
};
std::string* BpeCorpusTest::corpus_dir_ = nullptr;
std::string* BpeCorpusTest::train_ = nullptr;
std::string* BpeCorpusTest::valid_ = nullptr;
std::string* BpeCorpusTest::tokenizer_dir_ = nullptr;
Tokenizer* BpeCorpusTest::tokenizer_ = nullptr;

TEST_F(BpeCorpusTest, LoadsWithTheRequestedVocabularyAndSpecialTokens) {
  EXPECT_EQ(tokenizer_->kind(), "tokenizer.json");
  EXPECT_EQ(tokenizer_->vocab_size(), kVocabSize);
  EXPECT_EQ(tokenizer_->eos_id(), kVocabSize - 2);
  EXPECT_EQ(tokenizer_->bos_id(), kVocabSize - 1);
  EXPECT_EQ(tokenizer_->PieceToId("<|endoftext|>"), kVocabSize - 2);
  EXPECT_EQ(tokenizer_->PieceToId("<|startoftext|>"), kVocabSize - 1);
  // Encode(add_special_tokens) prepends BOS only.
  const std::vector<int64_t> plain = Encode("Bobo lives in the red house.");
  std::vector<int64_t> with_bos = Encode("Bobo lives in the red house.", /*special=*/true);
  ASSERT_EQ(with_bos.size(), plain.size() + 1);
  EXPECT_EQ(with_bos[0], kVocabSize - 1);
  // A literal special token in text maps to its id and is skipped when decoding.
  const std::vector<int64_t> eot = Encode("a<|endoftext|>b");
  EXPECT_EQ(std::count(eot.begin(), eot.end(), kVocabSize - 2), 1);
  auto skipped = tokenizer_->Decode(eot, /*skip_special_tokens=*/true);
  ASSERT_THAT(skipped, IsOk());
  EXPECT_EQ(*skipped, "ab");
}

TEST_F(BpeCorpusTest, RoundTripsCorpusText) {
  ExpectRoundTrip(valid_->substr(0, 200'000));
  ExpectRoundTrip(train_->substr(train_->size() / 2, 50'000));
  auto decoded =
      tokenizer_->Decode(Encode(*valid_, /*special=*/true), /*skip_special_tokens=*/true);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(*decoded, *valid_);
}

TEST_F(BpeCorpusTest, RoundTripsArbitraryUnicode) {
  for (const std::string text :
       {"", " ", "\n\n\n", "  leading and trailing  ", "tabs\tand\r\nCRLF\r\n", "naïve café",
        "日本語のテキスト", "emoji 🙂👩‍👩‍👧 flags 🇩🇪",
        "combining e\xCC\x81 and Å", "RTL \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D",
        "控制\x01\x02\x7F chars", "\xEF\xBB\xBFwith BOM", "x<|startoftext|>y<|endoftext|>",
        "'s 'll 'VE ''' !!!??? ...", "1234567890 ٣٤٥ ⅫⅣ"}) {
    SCOPED_TRACE(text);
    ExpectRoundTrip(text);
  }
  // Random code points (no surrogates), as UTF-8.
  corpus::Rng rng(99);
  for (int trial = 0; trial < 200; ++trial) {
    std::string text;
    const int n = rng.Range(1, 40);
    for (int i = 0; i < n; ++i) {
      uint32_t cp;
      switch (rng.Below(4)) {
        case 0:
          cp = static_cast<uint32_t>(rng.Range(1, 0x7F));
          break;
        case 1:
          cp = static_cast<uint32_t>(rng.Range(0x80, 0x7FF));
          break;
        case 2:
          cp = static_cast<uint32_t>(rng.Range(0x800, 0xFFFD));
          break;
        default:
          cp = static_cast<uint32_t>(rng.Range(0x10000, 0x10FFFF));
          break;
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
      if (cp < 0x80) {
        text.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        text.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        text.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        text.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        text.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        text.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        text.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
    ExpectRoundTrip(text);
  }
}

TEST_F(BpeCorpusTest, DigitsAreSingleTokens) {
  // No vocabulary entry holds a digit together with anything else.
  for (int64_t id = 0; id < tokenizer_->vocab_size(); ++id) {
    const std::optional<std::string> bytes = byte_level::SymbolsToBytes(tokenizer_->IdToPiece(id));
    if (!bytes) continue;  // special tokens
    const bool has_digit = bytes->find_first_of("0123456789") != std::string::npos;
    if (has_digit) {
      EXPECT_EQ(bytes->size(), 1u) << "token " << id << " '" << *bytes << "'";
    }
  }
  const std::vector<int64_t> ids = Encode("Q: What is 47 + 385? A: 47 + 385 = 432.");
  int digits = 0;
  for (int64_t id : ids) {
    const std::string piece = tokenizer_->IdToPiece(id);
    digits += piece.size() == 1 && std::isdigit(static_cast<unsigned char>(piece[0]));
  }
  EXPECT_EQ(digits, 13);  // 47, 385, 47, 385, 432: every digit its own token
}

// The multiple-choice options the corpus uses are single tokens (the evaluator's argmax needs it).
TEST_F(BpeCorpusTest, AnswerLettersAreSingleTokens) {
  for (const char* option : {" A", " B", " C", " D"}) {
    EXPECT_EQ(Encode(option).size(), 1u) << option;
    // ... and the same token as in "Answer: X".
    const std::vector<int64_t> answer = Encode(std::string("Answer:") + option);
    ASSERT_FALSE(answer.empty());
    EXPECT_EQ(answer.back(), Encode(option)[0]);
  }
}

// Held-out items are phrased with new sentences, not new words: every pre-tokenizer piece of a
// held-out prompt, query or document occurs in the training text, so none of their tokens has an
// untrained embedding.
TEST_F(BpeCorpusTest, HeldOutTextUsesOnlyTrainingPieces) {
  PG_ASSERT_OK_AND_ASSIGN(WordCounter train_pieces, WordCounter::Create());
  ASSERT_THAT(train_pieces.Add(*train_, 2), IsOk());
  PG_ASSERT_OK_AND_ASSIGN(tasks::TaskSuite suite, tasks::LoadTaskDir(*corpus_dir_ + "/tasks"));
  std::vector<std::string> texts;
  for (const auto& item : suite.generation) texts.push_back(item.prompt);
  for (const auto& item : suite.multiple_choice) {
    texts.push_back(item.prompt);
    for (const std::string& option : item.options) texts.push_back(option);
  }
  for (const auto& item : suite.retrieval) {
    for (const auto& q : item.queries) texts.push_back(q.text);
    for (const auto& d : item.documents) texts.push_back(d.text);
  }
  ASSERT_GT(texts.size(), 1000u);
  for (const std::string& text : texts) {
    PG_ASSERT_OK_AND_ASSIGN(std::vector<std::string> pieces, train_pieces.Split(text));
    for (const std::string& piece : pieces) {
      ASSERT_TRUE(train_pieces.counts().contains(piece)) << "'" << piece << "' in: " << text;
    }
  }
}

TEST_F(BpeCorpusTest, CompactEncoding) {
  PG_ASSERT_OK_AND_ASSIGN(TokenizationStats stats, MeasureTokenization(*tokenizer_, *valid_));
  std::cout << "tokenization of valid.txt: " << stats.ToJson() << "\n";
  EXPECT_GT(stats.documents, 100);
  EXPECT_LT(stats.tokens_per_word, 1.8);
  EXPECT_GT(stats.bytes_per_token, 2.5);
  EXPECT_EQ(stats.docs_over_254, 0);  // every document fits a 256-token context
}

TEST_F(BpeCorpusTest, DeterministicAcrossRunsAndThreadCounts) {
  const std::string text = train_->substr(0, 400'000);
  const std::string a = TrainInto(text, /*threads=*/1, 1024);
  const std::string b = TrainInto(text, /*threads=*/2, 1024);
  const std::string c = TrainInto(text, /*threads=*/2, 1024);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string content = ReadText(a + "/" + file);
    EXPECT_FALSE(content.empty());
    EXPECT_EQ(content, ReadText(b + "/" + file)) << file;
    EXPECT_EQ(content, ReadText(c + "/" + file)) << file;
  }
}

TEST(WordCounterTest, ChunkedCountsEqualOnePass) {
  const std::string text =
      "Q: What is 12 + 3? A: 12 + 3 = 15.\n\nLily's ball   rolled\naway!\n  \nHe said, "
      "\"Don't go.\"\n\n\nÜber 日本 🙂\n" +
      std::string(5000, 'x') + "\nend";
  PG_ASSERT_OK_AND_ASSIGN(WordCounter one, WordCounter::Create());
  ASSERT_THAT(one.Add(text, 1), IsOk());
  PG_ASSERT_OK_AND_ASSIGN(WordCounter three, WordCounter::Create());
  ASSERT_THAT(three.Add(text, 3), IsOk());
  EXPECT_EQ(one.counts(), three.counts());
  PG_ASSERT_OK_AND_ASSIGN(std::vector<std::string> pieces, one.Split(text));
  absl::flat_hash_map<std::string, int64_t> expected;
  for (const std::string& p : pieces) ++expected[p];
  EXPECT_EQ(one.counts(), expected);
  EXPECT_EQ(one.total_pieces(), static_cast<int64_t>(pieces.size()));
  EXPECT_THAT(one.Split("Lily's 12"), IsOk());
  EXPECT_EQ(*one.Split("Lily's 12"), (std::vector<std::string>{"Lily", "'s", " ", "1", "2"}));
  EXPECT_THAT(one.Add("bad \xff", 1), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BpeTrainerTest, MergesTheMostFrequentPairFirst) {
  absl::flat_hash_map<std::string, int64_t> counts = {{"abab", 10}, {"cd", 3}, {"e", 100}};
  BpeTrainerOptions options;
  options.vocab_size = 256 + 3 + 2;
  PG_ASSERT_OK_AND_ASSIGN(TrainedBpe bpe, TrainBpe(counts, options));
  ASSERT_EQ(bpe.merges.size(), 3u);
  EXPECT_EQ(bpe.merges[0], (std::pair<std::string, std::string>{"a", "b"}));    // 20 times
  EXPECT_EQ(bpe.merges[1], (std::pair<std::string, std::string>{"ab", "ab"}));  // 10
  EXPECT_EQ(bpe.merges[2], (std::pair<std::string, std::string>{"c", "d"}));    // 3
  EXPECT_EQ(bpe.tokens[256], "ab");
  EXPECT_EQ(bpe.tokens[257], "abab");
  EXPECT_EQ(bpe.vocab_size(), 261);
  // Spaces are learned as byte-level symbols.
  PG_ASSERT_OK_AND_ASSIGN(TrainedBpe spaced, TrainBpe({{" the", 5}}, options));
  EXPECT_EQ(spaced.tokens[256], "\xC4\xA0t");  // "Ġt"
  // min_frequency stops training early.
  options.min_frequency = 50;
  PG_ASSERT_OK_AND_ASSIGN(TrainedBpe none, TrainBpe(counts, options));
  EXPECT_TRUE(none.merges.empty());
}

TEST(BpeTrainerTest, RejectsBadOptions) {
  BpeTrainerOptions options;
  options.vocab_size = 200;
  EXPECT_THAT(TrainBpe({}, options), StatusIs(absl::StatusCode::kInvalidArgument));
  options.vocab_size = 1000;
  options.special_tokens = {"<a>", "<a>"};
  EXPECT_THAT(TrainBpe({}, options), StatusIs(absl::StatusCode::kInvalidArgument));
  TrainedBpe bpe;
  TokenizerFileOptions file_options;
  file_options.bos_token = "<nope>";
  EXPECT_THAT(MakeTokenizerFiles(bpe, file_options), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace prunegate::bpe
