#!/usr/bin/env bash
# Trains (or continues training) the shipped model models/tinykb from scratch inputs that the
# repository regenerates deterministically: the synthetic corpus and its BPE tokenizer.
# Resumable: rerun the same command; training state lives in out/train/checkpoint and, between
# machines, in models/tinykb/training/ (copied back with --save-state).
#
#   bash scripts/train-model.sh [--max-minutes M] [--save-state]
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
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

bash scripts/build.sh >/dev/null
mkdir -p "$OUT" "$MODEL"
if [ ! -f "$OUT/corpus/train.txt" ]; then
  "$BUILD_DIR/tools/corpus/prunegate-corpus" --out "$OUT/corpus" --seed 1
fi
if [ -f "$MODEL/tokenizer.json" ]; then
  mkdir -p "$OUT/tokenizer"
  cp "$MODEL"/tokenizer.json "$MODEL"/tokenizer_config.json "$MODEL"/special_tokens_map.json "$OUT/tokenizer/"
elif [ ! -f "$OUT/tokenizer/tokenizer.json" ]; then
  "$BUILD_DIR/tools/bpe/prunegate-train-bpe" --corpus "$OUT/corpus/train.txt" --vocab-size 1536 \
    --out "$OUT/tokenizer"
fi
if [ ! -f "$OUT/train/checkpoint/state.json" ] && [ -f "$MODEL/training/state.json" ]; then
  mkdir -p "$OUT/train"
  cp -r "$MODEL/training" "$OUT/train/checkpoint"
fi
"$BUILD_DIR/tools/train/prunegate-train" --corpus "$OUT/corpus" --tokenizer "$OUT/tokenizer" \
  --work "$OUT/train" --out "$MODEL" --steps 4200 --hidden 256 --layers 6 --heads 8 --kv-heads 2 \
  --intermediate 704 --seq-len 256 --batch 16 --lr 2e-3 --min-lr 2e-4 --warmup 300 \
  --answer-weight 3 --eval-every 500 --eval-items 100 --checkpoint-every-s 600 \
  --max-minutes "$MAX_MINUTES" --threads 2 --seed 1
mkdir -p "$MODEL/tasks"
cp "$OUT"/corpus/tasks/*.jsonl "$MODEL/tasks/"
if [ "$SAVE_STATE" = 1 ]; then
  rm -rf "$MODEL/training"
  cp -r "$OUT/train/checkpoint" "$MODEL/training"
  cp "$OUT/train/train_log.jsonl" "$MODEL/training/train_log.jsonl"
fi
