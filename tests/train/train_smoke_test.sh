#!/usr/bin/env bash
# CI smoke run of the training pipeline's real binaries (issue 3): a small corpus from
# prunegate-corpus, a few steps of prunegate-train on a tiny model with the shipped tokenizer
# (held-out evaluation during training included), a resume that continues from the checkpoint
# with a warm restart of the schedule, and prunegate-eval scoring the exported checkpoint.
#   train_smoke_test.sh CORPUS_BIN TRAIN_BIN EVAL_BIN TOKENIZER_DIR
set -euo pipefail
corpus_bin=$1 train_bin=$2 eval_bin=$3 tok=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$corpus_bin" --out "$work/corpus" --seed 3 --train-tokens-approx 40000 --knowledge-items 12 \
  --arithmetic-items 8 --story-items 2 >"$work/corpus.json"
grep -q '"train_documents"' "$work/corpus.json" || fail "no corpus summary"

train() {
  "$train_bin" --corpus "$work/corpus" --tokenizer "$tok" --work "$work/train" \
    --out "$work/model" --hidden 32 --layers 2 --heads 4 --kv-heads 2 --intermediate 64 \
    --seq-len 64 --batch 2 --warmup 2 --eval-every 4 --eval-items 3 --threads 1 --seed 5 "$@"
}
train --steps 4 >"$work/first.log"
grep -q '^eval {' "$work/first.log" || fail "no held-out evaluation at step 4"
grep -q 'step 4 of 4' "$work/first.log" || fail "first run did not finish: $(tail -3 "$work/first.log")"
[ -f "$work/train/checkpoint/state.json" ] || fail "no checkpoint"
for f in config.json model.safetensors generation_config.json tokenizer.json; do
  [ -f "$work/model/$f" ] || fail "exported checkpoint lacks $f"
done

# A second phase: resumes at step 4 and restarts the schedule there.
train --steps 6 --schedule-start 4 --lr 1e-3 --min-lr 1e-4 >"$work/second.log"
grep -q 'starting at step 4' "$work/second.log" || fail "did not resume: $(head -3 "$work/second.log")"
grep -q 'step 6 of 6' "$work/second.log" || fail "second run did not finish"
grep -q '"schedule_start": 4' "$work/train/checkpoint/state.json" || fail "phase not recorded"

# A phase that starts at or after its end is a precise error, not a crash.
if train --steps 6 --schedule-start 6 >"$work/bad.log" 2>&1; then fail "bad schedule accepted"; fi
grep -q 'schedule_start must be in' "$work/bad.log" || fail "unclear error: $(cat "$work/bad.log")"

"$eval_bin" --model "$work/model" --tasks "$work/corpus/tasks" --json --threads 1 >"$work/eval.log"
last=$(tail -1 "$work/eval.log")
for k in '"generation"' '"multiple_choice"' '"retrieval"' '"exact_match"' '"accuracy"' '"recall_at_1"'; do
  [[ $last == *$k* ]] || fail "eval JSON lacks $k: $last"
done
echo "train smoke: ok"
