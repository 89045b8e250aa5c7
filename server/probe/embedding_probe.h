// Embedding probe: pooled hidden states of texts under both models (cosine per text), and for
// retrieval sets the stability of each query's document ranking: top-k overlap and Kendall tau
// between the baseline's and the candidate's rankings, plus each model's recall@1.
#ifndef PRUNEGATE_SERVER_PROBE_EMBEDDING_PROBE_H_
#define PRUNEGATE_SERVER_PROBE_EMBEDDING_PROBE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "server/eval/runner.h"
#include "server/tasks/task.h"

namespace prunegate::probe {

struct EmbeddingSummary {
  std::vector<double> text_cosine;  // cos(e_a(text), e_b(text)) per text, in input order
  double mean_cosine = 0;
  int64_t queries = 0;
  double recall_at_1_a = 0, recall_at_1_b = 0;
  double mean_topk_overlap = 0;  // |top-k_a ∩ top-k_b| / k, averaged over queries
  double mean_kendall_tau = 0;   // rank correlation of the two document orderings
};

// Kendall tau-a between two score vectors over the same items (1 = same order, -1 = reversed).
double KendallTau(const std::vector<double>& x, const std::vector<double>& y);

// `texts` are compared directly; every retrieval set's documents and queries are embedded by
// both models and ranked. INVALID_ARGUMENT when there is nothing to embed or k < 1.
absl::StatusOr<EmbeddingSummary> ProbeEmbeddings(const eval::Runner& a, const eval::Runner& b,
                                                 const std::vector<std::string>& texts,
                                                 const std::vector<tasks::RetrievalItem>& sets,
                                                 eval::Pooling pooling, int64_t top_k = 3);

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_EMBEDDING_PROBE_H_
