// Layer probe (paper Fig. 2/6): walks the baseline's forward pass; at every sublayer s of every
// layer with residual input x it forms h_a = x + f_a(norm x) and h_b = x + f_b(norm x) (f_b = 0
// for a sublayer the candidate dropped), projects both through the baseline's logit lens and
// compares them in hidden, logit and probability space, measured next to the paper's estimates.
//
// The candidate's attention keeps its own KV cache, written from the baseline stream, so probes
// of later decode steps stay exact. Sublayers whose weights the candidate shares with the
// baseline (same storage) give f_b = f_a without being recomputed, which is what makes a probe
// of a drop candidate cost about one forward pass plus one batched lens product.
#ifndef PRUNEGATE_SERVER_PROBE_LAYER_PROBE_H_
#define PRUNEGATE_SERVER_PROBE_LAYER_PROBE_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/model/kv_cache.h"
#include "server/model/model.h"
#include "server/model/transformer.h"
#include "server/probe/stats.h"

namespace prunegate::probe {

enum class Lens {
  kNormHead,  // final norm + LM head (default)
  kRaw,       // LM head only, as the paper's code does
};

enum class LayerProbeMode {
  kLocal,       // compare h_a and h_b at the sublayer only
  kPropagated,  // also carry h_b through the remaining baseline layers and compare the outputs
};

struct LayerProbeOptions {
  Lens lens = Lens::kNormHead;
  LayerProbeMode mode = LayerProbeMode::kLocal;
  std::vector<double> temperatures = {1.0};
  int64_t top_k = 10;
  bool all_positions = false;  // statistics at every fed position, else the last one only
};

// One (layer, sublayer, position) record.
struct SublayerRecord {
  int layer = 0;
  Sublayer sublayer = Sublayer::kAttention;
  int64_t position = 0;  // absolute token position in the sequence
  bool dropped = false;  // the candidate has no such sublayer
  bool shared = false;   // the candidate shares this sublayer's weights
  VectorStats hidden;    // h_a vs h_b
  // lens(h_a) vs lens(h_b): logit and probability statistics. probs[].dp_ref is the Δp of the
  // baseline lens's top-1 token: q(t) - p(t) with t = argmax lens(h_a).
  RowStats lens;
  // kPropagated only: h_b carried through the remaining baseline sublayers (the fed positions
  // perturbed, earlier positions as the baseline cached them), compared with the baseline's own
  // output: final hidden state after the final norm, and the output logits (dp_ref: Δp of the
  // baseline output's top-1 token). Exactly zero for a shared sublayer.
  bool has_propagated = false;
  VectorStats propagated_hidden;
  RowStats propagated;
};

// Cost: local mode is about one forward pass plus one batched lens product over the distinct
// rows (a shared or dropped sublayer adds none), plus, for every sublayer the candidate changed,
// that sublayer: an attention over every fed position (it fills the candidate's cache), an MLP
// over the probed positions only. Propagated mode adds, for every sublayer the candidate
// changed, the rest of the baseline's forward pass from there.
//
// Probes one sequence. Feed() may be called repeatedly (prompt, then decode steps) and keeps both
// KV caches; each call returns the records of the tokens it fed.
class LayerProbe {
 public:
  // INVALID_ARGUMENT when the pair differs in vocabulary, hidden size, layer count or attention
  // geometry, or the options are invalid.
  static absl::StatusOr<std::unique_ptr<LayerProbe>> Create(std::shared_ptr<const Model> baseline,
                                                            std::shared_ptr<const Model> candidate,
                                                            const LayerProbeOptions& options);

  // Feeds tokens (ids checked against the vocabulary and the position limit). `cancelled`, when
  // set, is polled between layers; CANCELLED stops the walk (the caches are then unusable).
  absl::StatusOr<std::vector<SublayerRecord>> Feed(const std::vector<int64_t>& ids,
                                                   const std::function<bool()>& cancelled = {});
  // Baseline logits after the last fed token (V), float32, for choosing the next token.
  const at::Tensor& last_logits() const { return last_logits_; }
  int64_t length() const { return length_; }

 private:
  LayerProbe() = default;
  // A changed sublayer's output stream h_b (1, S, H) and the index of its first record.
  struct Perturbed {
    int layer;
    Sublayer sublayer;
    at::Tensor stream;
    size_t record;
  };
  // Runs each perturbed stream through the baseline sublayers after it; writes the fed rows of
  // the result into (*outs)[record / rows]. Leaves the baseline's cache as it found it.
  absl::Status Propagate(const std::vector<Perturbed>& perturbed, const AttentionContext& ctx,
                         int64_t first, int64_t rows, const std::function<bool()>& cancelled,
                         std::vector<at::Tensor>* outs);
  std::shared_ptr<const Model> a_, b_;
  LayerProbeOptions options_;
  KvCache cache_a_, cache_b_;
  std::vector<bool> attention_shared_, mlp_shared_;
  at::Tensor last_logits_;
  int64_t length_ = 0;
};

// True when both sublayers hold the same tensors (storage identity).
bool SharesSublayer(const LayerWeights& a, const LayerWeights& b, Sublayer sublayer);

}  // namespace prunegate::probe

#endif  // PRUNEGATE_SERVER_PROBE_LAYER_PROBE_H_
