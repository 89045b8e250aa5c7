#!/usr/bin/env bash
# The main job, runnable on a fresh clone with nothing but scripts/install-deps.sh:
# builds prunegate, writes a small Llama-architecture checkpoint with the repository's fixture
# maker, and generates from it with prunegate-generate (text, then JSON with token ids).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/build.sh
MODEL_DIR="$BUILD_DIR/demo-models"
"$BUILD_DIR/tests/fixtures/prunegate-make-fixtures" "$MODEL_DIR"
echo
echo "== prunegate-generate on $MODEL_DIR/demo (random weights, byte-level BPE tokenizer) =="
"$BUILD_DIR/tools/prunegate-generate" --model "$MODEL_DIR/demo" --prompt "Once upon a time" \
  --max-new-tokens 16 --temperature 0.8 --top-k 40 --seed 7
"$BUILD_DIR/tools/prunegate-generate" --model "$MODEL_DIR/demo" --prompt "Once upon a time" \
  --max-new-tokens 16 --json
