#!/usr/bin/env bash
# Trains (or continues training) the shipped model models/tinykb from scratch inputs that the
# repository regenerates deterministically: the synthetic corpus and its BPE tokenizer.
# Resumable: rerun the same command; training state lives in out/train/checkpoint and, between
# machines, in models/tinykb/training/ (copied back with --save-state).
#
#   bash scripts/train-model.sh [--max-minutes M] [--save-state] [--model DIR] [--out DIR]
#
# --model (default models/tinykb) and --out (default out) let a second, independent run train
# elsewhere, e.g. the from-scratch reproducibility check in models/tinykb/README.md:
#   bash scripts/train-model.sh --model out/retrain/model --out out/retrain
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
MODEL=models/tinykb
OUT=out
MAX_MINUTES=0
SAVE_STATE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --max-minutes) MAX_MINUTES=$2; shift 2 ;;
    --save-state) SAVE_STATE=1; shift ;;
    --model) MODEL=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

# A finished model keeps only its record (training/state.json and train_log.jsonl): the weights and
# Adam moments of the last step would triple the size of the model directory.
if [ -f "$MODEL/training/state.json" ] && [ ! -f "$MODEL/training/weights/model.safetensors" ] &&
  [ ! -f "$OUT/train/checkpoint/state.json" ]; then
  echo "train-model: $MODEL is trained ($MODEL/training/state.json) and ships no optimizer state to" \
    "resume from; to train the recipe again from scratch:" >&2
  echo "  bash scripts/train-model.sh --model out/retrain/model --out out/retrain" >&2
  exit 0
fi
BUILD_TARGETS="prunegate-corpus prunegate-train-bpe prunegate-train" bash scripts/build.sh >/dev/null
mkdir -p "$OUT" "$MODEL"
# The recipe has two phases (models/tinykb/README.md):
#   1. steps 0-4200: mixture 17/19/32/16/16, lr 2e-3 -> 2e-4 (warmup 300);
#   2. steps 4200-5300: more multiple choice (36%, option drills), lr 1e-3 -> 1e-4 (warmup 100,
#      restarted at step 4200).
PHASE1_CORPUS=(--mix profile=17,qa=19,multiple_choice=32,arithmetic=16,story=16
  --mc-block-questions 2 --mc-lookup-percent 50 --mc-drill-percent 0)
PHASE2_CORPUS=(--mix profile=15,qa=17,multiple_choice=36,arithmetic=16,story=16
  --mc-block-questions 3 --mc-lookup-percent 25 --mc-drill-percent 30)
PHASE1_END=4200
PHASE2_END=5300

if [ -f "$MODEL/tokenizer.json" ]; then
  mkdir -p "$OUT/tokenizer"
  cp "$MODEL"/tokenizer.json "$MODEL"/tokenizer_config.json "$MODEL"/special_tokens_map.json "$OUT/tokenizer/"
elif [ ! -f "$OUT/tokenizer/tokenizer.json" ]; then
  "$BUILD_DIR/tools/corpus/prunegate-corpus" --out "$OUT/corpus-phase1" --seed 1 "${PHASE1_CORPUS[@]}"
  "$BUILD_DIR/tools/bpe/prunegate-train-bpe" --corpus "$OUT/corpus-phase1/train.txt" \
    --vocab-size 1536 --out "$OUT/tokenizer"
fi
if [ ! -f "$OUT/train/checkpoint/state.json" ] && [ -f "$MODEL/training/state.json" ]; then
  mkdir -p "$OUT/train"
  cp -r "$MODEL/training" "$OUT/train/checkpoint"
  cp "$MODEL/training/train_log.jsonl" "$OUT/train/train_log.jsonl"
fi
step=0
if [ -f "$OUT/train/checkpoint/state.json" ]; then
  step=$(sed -n 's/^  "step": \([0-9]*\),*$/\1/p' "$OUT/train/checkpoint/state.json")
fi
START=$(date +%s)
minutes_left() {  # what is left of --max-minutes (0 = no limit)
  if [ "$MAX_MINUTES" = 0 ]; then echo 0; return; fi
  awk -v m="$MAX_MINUTES" -v s="$START" -v n="$(date +%s)" 'BEGIN { l = m - (n - s) / 60; if (l < 0.1) l = 0.1; print l }'
}
train() {  # corpus dir, then phase flags
  local corpus=$1
  shift
  "$BUILD_DIR/tools/train/prunegate-train" --corpus "$corpus" --tokenizer "$OUT/tokenizer" \
    --work "$OUT/train" --out "$MODEL" --hidden 256 --layers 6 --heads 8 --kv-heads 2 \
    --intermediate 704 --seq-len 256 --batch 16 --answer-weight 3 --eval-every 250 \
    --eval-items 100 --checkpoint-every-s 600 --max-minutes "$(minutes_left)" --threads 2 \
    --seed 1 "$@"
}
if [ "$step" -lt "$PHASE1_END" ]; then
  [ -f "$OUT/corpus-phase1/train.txt" ] ||
    "$BUILD_DIR/tools/corpus/prunegate-corpus" --out "$OUT/corpus-phase1" --seed 1 "${PHASE1_CORPUS[@]}"
  train "$OUT/corpus-phase1" --steps "$PHASE1_END" --lr 2e-3 --min-lr 2e-4 --warmup 300
  step=$(sed -n 's/^  "step": \([0-9]*\),*$/\1/p' "$OUT/train/checkpoint/state.json")
fi
if [ "$step" -ge "$PHASE1_END" ] && [ "$step" -lt "$PHASE2_END" ]; then
  [ -f "$OUT/corpus-phase2/train.txt" ] ||
    "$BUILD_DIR/tools/corpus/prunegate-corpus" --out "$OUT/corpus-phase2" --seed 1 "${PHASE2_CORPUS[@]}"
  train "$OUT/corpus-phase2" --steps "$PHASE2_END" --schedule-start "$PHASE1_END" --lr 1e-3 \
    --min-lr 1e-4 --warmup 100
fi
mkdir -p "$MODEL/tasks"
cp "$OUT"/corpus-phase2/tasks/*.jsonl "$MODEL/tasks/" 2>/dev/null ||
  cp "$OUT"/corpus-phase1/tasks/*.jsonl "$MODEL/tasks/"
if [ "$SAVE_STATE" = 1 ]; then
  rm -rf "$MODEL/training"
  cp -r "$OUT/train/checkpoint" "$MODEL/training"
  cp "$OUT/train/train_log.jsonl" "$MODEL/training/train_log.jsonl"
fi
