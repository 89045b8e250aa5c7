#!/usr/bin/env bash
# Regenerates docs/reproduction.md (and docs/reproduction.json): the paper's experiment in
# miniature on the shipped model and the calibration check of the verdicts (issue 4).
#
#   bash scripts/reproduce.sh [prunegate-reproduce flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/build.sh >/dev/null
"$BUILD_DIR/tools/reproduce/prunegate-reproduce" --threads "$(nproc)" "$@"
