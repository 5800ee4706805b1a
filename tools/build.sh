#!/usr/bin/env bash
# Installs the Debian packages the build needs (only those missing), configures CMake + Ninja
# into build/ and builds everything. Binaries land in build/bin/.
# Environment: SL_BUILD_JOBS (default: number of cores), SL_BUILD_TYPE (default: Release),
# SL_BUILD_DIR (default: build), SL_SANITIZE (e.g. address,undefined: the sanitized build that
# tools/test.sh makes in build-asan/; docs/testing.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  cmake ninja-build g++ python3                    # toolchain
  llvm-19-dev llvm-19-tools libmlir-19-dev mlir-19-tools  # MLIR 19 (the pin), lit, FileCheck
  libgtest-dev                                     # unit tests
  nlohmann-json3-dev                               # config.json, tuning database
  flatbuffers-compiler libflatbuffers-dev          # the artifact schema
  libpcre2-dev                                     # tokenizer regexes
  zlib1g-dev                                       # deflate of the PNG writer (slrun niah)
)
"$root/tools/install_packages.sh" build.sh "${packages[@]}"

# CUDA is not a Debian package: the toolkit (NVRTC, headers) is preinstalled on these machines.
cuda=${CUDA_HOME:-/usr/local/cuda}
[ -f "$cuda/include/nvrtc.h" ] || {
  echo "build.sh: the CUDA toolkit (NVRTC) is required and was not found at $cuda;" \
       "install CUDA 12.8 or newer there or set CUDA_HOME" >&2
  exit 1
}

lit=/usr/lib/llvm-19/build/utils/lit/lit.py
[ -f "$lit" ] || { echo "build.sh: lit not found at $lit (package llvm-19-tools)" >&2; exit 1; }

build="$root/${SL_BUILD_DIR:-build}"
sanitize=${SL_SANITIZE:-}
# (Re)configure when the directory is new or its sanitizers differ from SL_SANITIZE.
configured=$(sed -n 's/^SL_SANITIZE:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if [ ! -f "$build/build.ninja" ] || [ "$configured" != "$sanitize" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE="${SL_BUILD_TYPE:-Release}" \
    -DCUDAToolkit_ROOT="$cuda" \
    -DSL_SANITIZE="$sanitize"
fi
cmake --build "$build" -j "${SL_BUILD_JOBS:-$(nproc)}"
echo "build.sh: binaries in $build/bin: $(ls "$build/bin" | tr '\n' ' ')"
