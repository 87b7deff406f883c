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
  libsentencepiece-dev
  # the text workload's corpora: prose to pretrain on, and the drift domains (configs/scenarios/text-*.yaml)
  bible-kjv debian-reference-en manpages manpages-dev linux-libc-dev libc6-dev
)

# The King James Bible as one file per book (var/corpora/kjv/, verse numbers dropped): the `bible` tool of
# bible-kjv reads the package's compressed text; the output is the same on every machine.
extract_corpora() {
  local root kjv
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  kjv="$root/var/corpora/kjv"
  if [ -f "$kjv/.complete" ] || ! command -v bible >/dev/null; then return 0; fi
  rm -rf "$kjv.partial" && mkdir -p "$kjv.partial"
  bible -f "Gen1:1-Rev22:21" | awk -v dir="$kjv.partial" '
    match($0, /^[1-9]?[A-Za-z]+[0-9]+:[0-9]+ /) {
      ref = substr($0, 1, RLENGTH - 1); text = substr($0, RLENGTH + 1)
      book = ref; sub(/[0-9]+:[0-9]+$/, "", book)
      printf "%s\n", text >> (dir "/" book ".txt")
    }'
  touch "$kjv.partial/.complete"
  rm -rf "$kjv" && mv "$kjv.partial" "$kjv"
  echo "setup: extracted $(ls "$kjv" | wc -l) books of the King James Bible into var/corpora/kjv"
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  extract_corpora
  exit 0
fi

echo "setup: installing ${#missing[@]} missing package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
extract_corpora
echo "setup: done"
