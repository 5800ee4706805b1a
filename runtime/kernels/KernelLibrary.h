// The header-only CUDA kernel library (runtime/kernels/*.cuh), embedded as text.
#pragma once

#include "runtime/nvrtc/Nvrtc.h"

#include <vector>

namespace sl::kernels {

// Every library header by file name ("sl_common.cuh", ...), as NVRTC in-memory headers.
const std::vector<nvrtc::Header> &libraryHeaders();

}  // namespace sl::kernels
