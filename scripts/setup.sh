#!/usr/bin/env bash
# Installs the Debian packages that building, testing and running BlockTrainer need.
# Idempotent: only packages that are missing are installed; nothing happens when all are present.
set -euo pipefail

PACKAGES=(
  build-essential clang cmake ninja-build ccache pkg-config zlib1g-dev
  libtorch-dev libopenblas0-openmp
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libabsl-dev nlohmann-json3-dev libsqlite3-dev libeigen3-dev libssl-dev
  dataset-fashion-mnist gnuplot-nox libpng-dev openssl python3
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${#missing[@]} missing package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
