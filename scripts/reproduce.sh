#!/usr/bin/env bash
# Regenerates docs/reproduction.md (and docs/reproduction.json): the paper's experiment in
# miniature on the shipped model and the calibration check of the verdicts (issue 4). When the
# developers' fixtures are present (../shared, or PRUNEGATE_SHARED_DIR), repeats the check in
# generation-only mode on stories260K into docs/reproduction-stories260K.md.
#
#   bash scripts/reproduce.sh [prunegate-reproduce flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/build.sh >/dev/null
REPRODUCE="$BUILD_DIR/tools/reproduce/prunegate-reproduce"
"$REPRODUCE" --threads "$(nproc)" "$@"
SHARED=${PRUNEGATE_SHARED_DIR:-../shared}
if [ -f "$SHARED/models/stories260K/model.safetensors" ]; then
  "$REPRODUCE" --threads "$(nproc)" --model "$SHARED/models/stories260K" \
    --out docs/reproduction-stories260K.md --json-out docs/reproduction-stories260K.json "$@"
fi
