// A small generated corpus shared by the corpus tests (one per test binary), and helpers to read
// it.
#ifndef PRUNEGATE_TESTS_TOOLS_CORPUS_FIXTURE_H_
#define PRUNEGATE_TESTS_TOOLS_CORPUS_FIXTURE_H_

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/paths.h"
#include "tests/testing/status_matchers.h"
#include "tools/corpus/corpus_generator.h"
#include "tools/corpus/knowledge_base.h"
#include "tools/corpus/text_template.h"

namespace prunegate::corpus {

inline constexpr uint64_t kSeed = 7;

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> SplitDocuments(const std::string& text) {
  std::vector<std::string> docs;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) end = text.size();
    std::string doc = text.substr(pos, end - pos);
    while (!doc.empty() && doc.back() == '\n') doc.pop_back();
    docs.push_back(doc);
    pos = end + 2;
  }
  return docs;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

inline CorpusOptions SmallOptions(uint64_t seed = kSeed) {
  CorpusOptions o;
  o.seed = seed;
  o.train_tokens_approx = 2'000'000;  // ~6 MB
  return o;
}

// One small corpus shared by the tests of the suite.
class CorpusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir("corpus"));
    auto stats = GenerateCorpus(SmallOptions(), *dir_);
    ASSERT_THAT(stats, ::prunegate::testing::IsOk());
    stats_ = new CorpusStats(*stats);
    train_ = new std::string(ReadText(*dir_ + "/train.txt"));
    kb_ = new KnowledgeBase(BuildKnowledgeBase(SmallOptions().num_entities, kSeed));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete stats_;
    delete train_;
    delete kb_;
  }

  // Every training question about the KB, instantiated: question text -> (entity, attribute).
  static std::map<std::string, std::pair<int, int>> TrainQuestions() {
    std::map<std::string, std::pair<int, int>> out;
    for (size_t e = 0; e < kb_->entities.size(); ++e) {
      for (size_t a = 0; a < Attributes().size(); ++a) {
        for (const std::string& t : Attributes()[a].train_questions) {
          out[Fill(t, {{'N', kb_->entities[e].name}})] = {static_cast<int>(e), static_cast<int>(a)};
        }
      }
    }
    return out;
  }

  static inline std::string* dir_ = nullptr;
  static inline CorpusStats* stats_ = nullptr;
  static inline std::string* train_ = nullptr;
  static inline KnowledgeBase* kb_ = nullptr;
};

}  // namespace prunegate::corpus

#endif  // PRUNEGATE_TESTS_TOOLS_CORPUS_FIXTURE_H_
