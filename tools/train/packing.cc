#include "tools/train/packing.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace prunegate::train {

std::vector<Row> PackRows(const std::vector<Document>& docs, const std::vector<size_t>& order,
                          int64_t row_tokens, int32_t separator) {
  std::vector<Row> rows;
  Row row;
  // The first token of a row is an input only; every later token is also a target.
  auto push = [&](int32_t id, float weight) {
    if (!row.ids.empty()) row.weights.push_back(weight);
    row.ids.push_back(id);
  };
  auto flush = [&] {
    if (row.ids.size() > 1) {
      while (static_cast<int64_t>(row.ids.size()) < row_tokens) push(separator, 0.0f);
      rows.push_back(std::move(row));
    }
    row = Row();
  };
  for (size_t index : order) {
    const Document& d = docs[index];
    // Each document is preceded by the separator, which as a target teaches "a document ends
    // here" (weight 1) and as an input starts the next one.
    const int64_t need = static_cast<int64_t>(d.ids.size()) + 1;
    if (static_cast<int64_t>(row.ids.size()) + need > row_tokens) flush();
    if (need > row_tokens) {  // a document longer than a row: row-sized pieces
      for (size_t start = 0; start < d.ids.size(); start += row_tokens - 1) {
        push(separator, 1.0f);
        const size_t end = std::min(d.ids.size(), start + row_tokens - 1);
        for (size_t i = start; i < end; ++i) push(d.ids[i], d.weights[i]);
        flush();
      }
      continue;
    }
    push(separator, 1.0f);
    for (size_t i = 0; i < d.ids.size(); ++i) push(d.ids[i], d.weights[i]);
  }
  flush();
  return rows;
}

std::vector<size_t> ShuffledOrder(size_t n, uint64_t seed, uint64_t epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003ull + epoch);
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(rng() % i);  // modulo bias is irrelevant here
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace prunegate::train
