#include "server/prune/drop.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "server/common/status_macros.h"
#include "server/model/session.h"
#include "torch/torch.h"

namespace prunegate::prune {

const char* DropKindName(DropKind kind) {
  switch (kind) {
    case DropKind::kAttention:
      return "drop-attention";
    case DropKind::kMlp:
      return "drop-mlp";
    case DropKind::kBlock:
      return "drop-block";
  }
  return "?";
}

absl::StatusOr<DropKind> ParseDropKind(const std::string& name) {
  for (DropKind k : {DropKind::kAttention, DropKind::kMlp, DropKind::kBlock}) {
    if (name == DropKindName(k)) return k;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown recipe '", name, "': expected drop-attention, drop-mlp or drop-block"));
}

namespace {

bool Present(const LayerWeights& l, DropKind kind) {
  switch (kind) {
    case DropKind::kAttention:
      return l.has_attention();
    case DropKind::kMlp:
      return l.has_mlp();
    case DropKind::kBlock:
      return l.has_attention() && l.has_mlp();
  }
  return false;
}

void ClearAttention(LayerWeights& l) {
  for (at::Tensor* t : {&l.input_norm, &l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.q_bias,
                        &l.k_bias, &l.v_bias, &l.o_bias}) {
    *t = at::Tensor();
  }
}

void ClearMlp(LayerWeights& l) {
  for (at::Tensor* t : {&l.post_attention_norm, &l.gate_proj, &l.up_proj, &l.down_proj,
                        &l.gate_bias, &l.up_bias, &l.down_bias}) {
    *t = at::Tensor();
  }
}

// Accumulates Σ cos(x_in, x_out) over real tokens for every sublayer and block.
class SimilarityTap : public SublayerTap {
 public:
  SimilarityTap(int layers, const at::Tensor& valid) : valid_(valid.to(torch::kFloat)) {
    sums_.resize(layers * 3);
  }
  void OnSublayer(int layer, Sublayer sub, const at::Tensor& x, at::Tensor& out) override {
    if (sub == Sublayer::kAttention) block_in_ = x;
    if (!out.defined()) return;
    at::Tensor y = x + out;
    Add(layer * 3 + static_cast<int>(sub), x, y);
    if (sub == Sublayer::kMlp && block_in_.defined()) Add(layer * 3 + 2, block_in_, y);
  }
  // (layers * 3) sums: attention, MLP, block per layer; undefined entries stay 0.
  std::vector<at::Tensor> sums_;

 private:
  void Add(int slot, const at::Tensor& a, const at::Tensor& b) {
    at::Tensor cos = torch::cosine_similarity(a.to(torch::kFloat), b.to(torch::kFloat), -1);
    at::Tensor s = (cos * valid_).sum();
    sums_[slot] = sums_[slot].defined() ? sums_[slot] + s : s;
  }
  at::Tensor valid_;
  at::Tensor block_in_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> DropLayers(const Model& baseline, DropKind kind,
                                                        const std::vector<int>& layers) {
  if (layers.empty()) return absl::InvalidArgumentError("no layers to drop");
  std::set<int> seen;
  ModelWeights w = baseline.weights();  // tensor handles: storage stays shared
  for (int layer : layers) {
    if (layer < 0 || layer >= baseline.num_layers()) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", layer, " out of range [0, ", baseline.num_layers(), ")"));
    }
    if (!seen.insert(layer).second) {
      return absl::InvalidArgumentError(absl::StrCat("layer ", layer, " given twice"));
    }
    LayerWeights& l = w.layers[layer];
    if (!Present(l, kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", layer, " has nothing left for ", DropKindName(kind)));
    }
    if (kind != DropKind::kMlp) ClearAttention(l);
    if (kind != DropKind::kAttention) ClearMlp(l);
  }
  return Model::FromWeights(baseline.config(), std::move(w),
                            absl::StrCat(baseline.source(), " ", DropKindName(kind)));
}

absl::StatusOr<std::vector<ImportanceScore>> ScoreImportance(
    std::shared_ptr<const Model> model, DropKind kind,
    const std::vector<std::vector<int64_t>>& calibration, int64_t batch,
    const std::function<bool()>& cancelled) {
  if (calibration.empty()) return absl::InvalidArgumentError("no calibration sequences");
  const int layers = model->num_layers();
  std::vector<at::Tensor> sums(layers * 3);
  double tokens = 0;
  c10::InferenceMode guard;
  for (size_t begin = 0; begin < calibration.size(); begin += std::max<int64_t>(1, batch)) {
    if (cancelled && cancelled()) return absl::CancelledError("importance scoring cancelled");
    const size_t end = std::min(calibration.size(), begin + std::max<int64_t>(1, batch));
    std::vector<std::vector<int64_t>> chunk(calibration.begin() + begin, calibration.begin() + end);
    int64_t s = 0;
    for (const auto& c : chunk) s = std::max<int64_t>(s, c.size());
    // Session::Feed left-pads: sequence i occupies the last chunk[i].size() slots.
    at::Tensor valid = torch::zeros({static_cast<int64_t>(chunk.size()), s}, torch::kBool);
    for (size_t i = 0; i < chunk.size(); ++i) {
      valid[i].narrow(0, s - chunk[i].size(), chunk[i].size()).fill_(true);
      tokens += chunk[i].size();
    }
    SimilarityTap tap(layers, valid.to(model->device()));
    PG_ASSIGN_OR_RETURN(auto session, Session::Create(model, chunk.size()));
    PG_RETURN_IF_ERROR(session->Feed(chunk, LogitsMode::kNone, &tap).status());
    for (int i = 0; i < layers * 3; ++i) {
      if (tap.sums_[i].defined())
        sums[i] = sums[i].defined() ? sums[i] + tap.sums_[i] : tap.sums_[i];
    }
  }
  const int slot = kind == DropKind::kAttention ? 0 : kind == DropKind::kMlp ? 1 : 2;
  std::vector<ImportanceScore> out;
  for (int l = 0; l < layers; ++l) {
    if (!Present(model->weights().layers[l], kind) || !sums[l * 3 + slot].defined()) continue;
    out.push_back({l, kind, sums[l * 3 + slot].item<double>() / tokens});
  }
  return out;
}

absl::StatusOr<std::vector<int>> ChooseLayers(std::shared_ptr<const Model> baseline, DropKind kind,
                                              int count,
                                              const std::vector<std::vector<int64_t>>& calibration,
                                              Selection selection, int64_t batch) {
  auto most_similar = [](std::vector<ImportanceScore> scores) {
    std::stable_sort(scores.begin(), scores.end(),
                     [](const ImportanceScore& a, const ImportanceScore& b) {
                       return a.similarity > b.similarity;
                     });
    return scores;
  };
  PG_ASSIGN_OR_RETURN(auto scores, ScoreImportance(baseline, kind, calibration, batch));
  if (count < 1 || count > static_cast<int>(scores.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot drop ", count, " units: ", scores.size(), " are present"));
  }
  std::vector<int> chosen;
  if (selection == Selection::kOneShot) {
    for (const auto& s : most_similar(scores)) {
      if (static_cast<int>(chosen.size()) == count) break;
      chosen.push_back(s.layer);
    }
    return chosen;
  }
  std::shared_ptr<const Model> current = baseline;
  for (int i = 0; i < count; ++i) {
    if (i > 0) {
      PG_ASSIGN_OR_RETURN(scores, ScoreImportance(current, kind, calibration, batch));
    }
    const int layer = most_similar(scores).front().layer;
    chosen.push_back(layer);
    PG_ASSIGN_OR_RETURN(current, DropLayers(*current, kind, {layer}));
  }
  return chosen;
}

}  // namespace prunegate::prune
