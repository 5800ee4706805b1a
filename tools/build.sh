#!/usr/bin/env bash
# Installs the Debian packages the build needs (only those missing), configures CMake + Ninja
# into build/ and builds everything. Binaries land in build/bin/.
# Environment: SL_BUILD_JOBS (default: number of cores), SL_BUILD_TYPE (default: Release).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  cmake ninja-build g++ python3                    # toolchain
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools  # MLIR 19 (the pin), lit, FileCheck
  libgtest-dev                                     # unit tests
  nlohmann-json3-dev                               # config.json, tuning database
  flatbuffers-compiler libflatbuffers-dev          # the artifact schema
  libpcre2-dev libcpp-httplib-dev                  # tokenizer regexes, HTTP server
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  echo "build.sh: installing missing packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# CUDA is not a Debian package: the toolkit (NVRTC, headers) is preinstalled on these machines.
cuda=${CUDA_HOME:-/usr/local/cuda}
[ -f "$cuda/include/nvrtc.h" ] || {
  echo "build.sh: the CUDA toolkit (NVRTC) is required and was not found at $cuda;" \
       "install CUDA 12.8 or newer there or set CUDA_HOME" >&2
  exit 1
}

lit=/usr/lib/llvm-19/build/utils/lit/lit.py
[ -f "$lit" ] || { echo "build.sh: lit not found at $lit (package llvm-19-tools)" >&2; exit 1; }

if [ ! -f "$root/build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$root/build" \
    -DCMAKE_BUILD_TYPE="${SL_BUILD_TYPE:-Release}" \
    -DCUDAToolkit_ROOT="$cuda"
fi
cmake --build "$root/build" -j "${SL_BUILD_JOBS:-$(nproc)}"
echo "build.sh: binaries in $root/build/bin: $(ls "$root/build/bin" | tr '\n' ' ')"
