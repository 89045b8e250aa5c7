// Small random in-memory models for engine, probe and prune tests (libtorch).
#ifndef PRUNEGATE_TESTS_TESTING_RANDOM_MODEL_H_
#define PRUNEGATE_TESTS_TESTING_RANDOM_MODEL_H_

#include <cstdint>
#include <memory>

#include "server/model/model.h"

namespace prunegate::testing {

// Llama, vocab 61, hidden 32, intermediate 40, 3 layers, 4 heads / 2 KV heads, head_dim 8.
ModelConfig SmallConfig();
// Weights with enough scale that layers matter (embeddings N(0,1), projections N(0,0.3²), norms
// near 1); biases per the config.
ModelWeights RandomWeights(const ModelConfig& config, uint64_t seed);
// Model::FromWeights(config, RandomWeights(config, seed)); fails the current test on error.
std::shared_ptr<const Model> MakeRandomModel(const ModelConfig& config, uint64_t seed = 7);

}  // namespace prunegate::testing

#endif  // PRUNEGATE_TESTS_TESTING_RANDOM_MODEL_H_
