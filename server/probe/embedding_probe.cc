#include "server/probe/embedding_probe.h"

#include <algorithm>
#include <set>

#include "server/common/status_macros.h"
#include "torch/torch.h"

namespace prunegate::probe {
namespace {

at::Tensor Unit(const at::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-30); }

std::vector<double> ToVector(const at::Tensor& t) {
  at::Tensor c = t.to(torch::kDouble).contiguous().cpu();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

double KendallTau(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return 1.0;
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double dx = x[i] - x[j], dy = y[i] - y[j];
      s += ((dx > 0) - (dx < 0)) * ((dy > 0) - (dy < 0));  // tau-a: ties count 0
    }
  }
  return s / (n * (n - 1) / 2.0);
}

absl::StatusOr<EmbeddingSummary> ProbeEmbeddings(const eval::Runner& a, const eval::Runner& b,
                                                 const std::vector<std::string>& texts,
                                                 const std::vector<tasks::RetrievalItem>& sets,
                                                 eval::Pooling pooling, int64_t top_k) {
  if (texts.empty() && sets.empty()) return absl::InvalidArgumentError("nothing to embed");
  if (top_k < 1) return absl::InvalidArgumentError("top_k must be >= 1");
  EmbeddingSummary s;
  c10::InferenceMode guard;
  if (!texts.empty()) {
    PG_ASSIGN_OR_RETURN(at::Tensor ea, eval::Embed(a, texts, pooling));
    PG_ASSIGN_OR_RETURN(at::Tensor eb, eval::Embed(b, texts, pooling));
    s.text_cosine = ToVector((Unit(ea) * Unit(eb)).sum(-1));
    for (double c : s.text_cosine) s.mean_cosine += c / s.text_cosine.size();
  }
  int64_t hits_a = 0, hits_b = 0;
  double overlap = 0, tau = 0;
  for (const auto& set : sets) {
    std::vector<std::string> docs, queries;
    for (const auto& d : set.documents) docs.push_back(d.text);
    for (const auto& q : set.queries) queries.push_back(q.text);
    PG_ASSIGN_OR_RETURN(at::Tensor da, eval::Embed(a, docs, pooling));
    PG_ASSIGN_OR_RETURN(at::Tensor db, eval::Embed(b, docs, pooling));
    PG_ASSIGN_OR_RETURN(at::Tensor qa, eval::Embed(a, queries, pooling));
    PG_ASSIGN_OR_RETURN(at::Tensor qb, eval::Embed(b, queries, pooling));
    at::Tensor sa = torch::matmul(Unit(qa), Unit(da).t());
    at::Tensor sb = torch::matmul(Unit(qb), Unit(db).t());
    const int64_t k = std::min<int64_t>(top_k, docs.size());
    for (size_t q = 0; q < queries.size(); ++q) {
      const std::vector<double> ra = ToVector(sa[q]), rb = ToVector(sb[q]);
      const auto& relevant = set.queries[q].relevant;
      auto top = [&](const std::vector<double>& r) {
        std::vector<size_t> order(r.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t x, size_t y) { return r[x] > r[y]; });
        return order;
      };
      const auto oa = top(ra), ob = top(rb);
      auto is_relevant = [&](size_t d) {
        return std::find(relevant.begin(), relevant.end(), set.documents[d].id) != relevant.end();
      };
      hits_a += is_relevant(oa[0]);
      hits_b += is_relevant(ob[0]);
      std::set<size_t> ka(oa.begin(), oa.begin() + k);
      int64_t shared = 0;
      for (int64_t i = 0; i < k; ++i) shared += ka.count(ob[i]);
      overlap += static_cast<double>(shared) / k;
      tau += KendallTau(ra, rb);
      ++s.queries;
    }
  }
  if (s.queries > 0) {
    s.recall_at_1_a = static_cast<double>(hits_a) / s.queries;
    s.recall_at_1_b = static_cast<double>(hits_b) / s.queries;
    s.mean_topk_overlap = overlap / s.queries;
    s.mean_kendall_tau = tau / s.queries;
  }
  return s;
}

}  // namespace prunegate::probe
