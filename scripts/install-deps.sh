#!/usr/bin/env bash
# Installs every Debian package prunegate needs to build, test, run its demo and benchmarks.
# Idempotent: packages already present are left alone. Debian 12 (bookworm), run as root.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libonig-dev libcpp-httplib-dev
  prometheus openssl
)

# PRUNEGATE_DEPS_SKIP: packages (space-separated) to leave out. docker/Dockerfile.cuda sets it to
# libtorch-dev: it builds against an upstream CUDA libtorch on Ubuntu 24.04, which has none.
if [ -n "${PRUNEGATE_DEPS_SKIP:-}" ]; then
  kept=()
  for p in "${PACKAGES[@]}"; do
    case " ${PRUNEGATE_DEPS_SKIP} " in *" $p "*) ;; *) kept+=("$p") ;; esac
  done
  PACKAGES=("${kept[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
