#!/usr/bin/env bash
# The main job, runnable on a fresh clone with nothing but scripts/install-deps.sh: builds
# prunegate and runs the shipped model models/tinykb (trained by scripts/train-model.sh on the
# repository's synthetic corpus): generation with prunegate-generate, then prunegate-eval on its
# held-out task suite. Without models/tinykb it falls back to a random-weight fixture checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/build.sh
if [ -f models/tinykb/model.safetensors ]; then
  MODEL=models/tinykb
  echo
  echo "== prunegate-generate on $MODEL =="
  for prompt in "Q: Where does Kimpo live? A:" "Q: What is 23 + 45? A:" "Tom was a little boy who liked to play."; do
    echo "> $prompt"
    "$BUILD_DIR/tools/prunegate-generate" --model "$MODEL" --prompt "$prompt" --max-new-tokens 40
  done
  "$BUILD_DIR/tools/prunegate-generate" --model "$MODEL" --prompt "Q: Where does Kimpo live? A:" \
    --max-new-tokens 12 --json
  echo
  echo "== prunegate-eval on $MODEL/tasks =="
  "$BUILD_DIR/tools/eval/prunegate-eval" --model "$MODEL"
  "$BUILD_DIR/tools/eval/prunegate-eval" --model "$MODEL" --json
else
  MODEL_DIR="$BUILD_DIR/demo-models"
  "$BUILD_DIR/tests/fixtures/prunegate-make-fixtures" "$MODEL_DIR"
  echo
  echo "== prunegate-generate on $MODEL_DIR/demo (random weights: its text is noise) =="
  "$BUILD_DIR/tools/prunegate-generate" --model "$MODEL_DIR/demo" --prompt "Once upon a time" \
    --max-new-tokens 16 --temperature 0.8 --top-k 40 --seed 7
  "$BUILD_DIR/tools/prunegate-generate" --model "$MODEL_DIR/demo" --prompt "Once upon a time" \
    --max-new-tokens 16 --json
fi
