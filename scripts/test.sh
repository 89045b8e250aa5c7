#!/usr/bin/env bash
# Builds everything and runs the whole test suite with ctest (ends with ctest's summary line).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
bash scripts/build.sh
cd "$BUILD_DIR"
ctest -j "$JOBS" --output-on-failure --timeout 300
