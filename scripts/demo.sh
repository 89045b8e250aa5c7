#!/usr/bin/env bash
# The main job, runnable on a fresh clone with nothing but scripts/install-deps.sh: builds
# prunegate, starts prunegate-server with the shipped model models/tinykb, derives two pruned
# candidates from it — light: the one MLP sublayer the importance score ranks least useful;
# heavy: the three it ranks least useful — and asks `prunegate gate` whether each is safe to
# deploy for generation and for multiple choice at temperatures 0.2 and 1.0, printing every
# verdict with the evidence behind it. A gate's exit code is its verdict (0 SAFE, 1 UNSAFE,
# 2 RISKY): those are results here, not failures. The script exits 0 when every step ran and the
# server, stopped with SIGTERM, exited 0; it stops the server however it ends, and fails when the
# server exits any other way. Needs no network and nothing outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
SERVER_BIN="$BUILD_DIR/server/prunegate-server"
CLI="$BUILD_DIR/client/prunegate"
MODEL=models/tinykb
TEMPERATURES=0.2,1.0

if [ ! -f "$MODEL/model.safetensors" ]; then
  echo "demo: $MODEL/model.safetensors is missing (it ships with the repository)" >&2
  exit 1
fi
bash scripts/build.sh

WORK=$(mktemp -d)
SERVER_PID=""
# Sends the server SIGTERM (unless it has exited already) and waits for it. Returns 0 when it
# exited 0 (or none was started); otherwise prints its exit status and its log, and returns 1.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid=$SERVER_PID status=0
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "demo: prunegate-server exited with status $status, not 0 on SIGTERM; its log:" >&2
    cat "$WORK/server.log" >&2
    return 1
  fi
}
cleanup() {
  local code=$?
  stop_server || code=1
  rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section() {
  echo
  echo "== $* =="
}

section "prunegate-server with $MODEL"
# Port 0: the server picks free ports and writes them to the ready file once it is serving.
"$SERVER_BIN" --model-root . --load "tinykb=$MODEL" --grpc-port 0 --metrics-port 0 \
  --ready-file "$WORK/ready.json" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 600); do
  [ -s "$WORK/ready.json" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "demo: prunegate-server exited before it was ready:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$WORK/ready.json" ]; then
  echo "demo: prunegate-server was not ready after 60 s:" >&2
  cat "$WORK/server.log" >&2
  exit 1
fi
PORT=$(grep -o '"grpc_port": *[0-9]*' "$WORK/ready.json" | grep -o '[0-9]*$')
export PRUNEGATE_SERVER="127.0.0.1:$PORT"
echo "serving on $PRUNEGATE_SERVER"
# --load is asynchronous: wait until tinykb is READY.
for _ in $(seq 1 600); do
  "$CLI" models list | grep -q '^tinykb *READY' && break
  sleep 0.1
done
"$CLI" models list

section "derive the candidates (drop-mlp, layers chosen by the importance score)"
"$CLI" models derive --baseline tinykb --name light --recipe drop-mlp --count 1
echo
"$CLI" models derive --baseline tinykb --name heavy --recipe drop-mlp --count 3
echo
"$CLI" models list

section "what the drift looks like: the same prompt decoded by baseline and heavy"
"$CLI" trace --baseline tinykb --candidate heavy --prompt "Q: Where is the home of Kimpo? A:" \
  --steps 12

# Runs `prunegate gate` with the given arguments; sets VERDICT from its exit code, and stops the
# demo on any other code (an error).
gate() {
  local code=0
  "$CLI" gate "$@" || code=$?
  case $code in
    0) VERDICT=SAFE ;;
    1) VERDICT=UNSAFE ;;
    2) VERDICT=RISKY ;;
    *)
      echo "demo: prunegate gate $* failed (exit code $code)" >&2
      exit 1
      ;;
  esac
}

SUMMARY=()
for candidate in light heavy; do
  for task in generation multiple-choice; do
    section "gate: $candidate for $task at T=$TEMPERATURES"
    gate --baseline tinykb --candidate "$candidate" --task "$task" --temperature "$TEMPERATURES"
    SUMMARY+=("$(printf '%-10s %-16s %s' "$candidate" "$task" "$VERDICT")")
  done
done

section "verdicts (each the worst over T=$TEMPERATURES)"
printf '%-10s %-16s %s\n' candidate task verdict
printf '%s\n' "${SUMMARY[@]}"

section "the same gate as a pipeline reads it: exit code and the --json last line"
gate --baseline tinykb --candidate heavy --task generation --temperature "$TEMPERATURES" \
  --json >"$WORK/gate.jsonl"
echo "verdict $VERDICT; $(tail -n 1 "$WORK/gate.jsonl" | cut -c 1-300)..."

section "stop the server (SIGTERM: drain, then exit 0)"
stop_server || exit 1
echo "prunegate-server exited 0"
echo
echo "demo: done"
