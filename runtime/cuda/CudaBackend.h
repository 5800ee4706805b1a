// The CUDA backend's entry for a BackendRegistry.
#pragma once

#include "runtime/core/Backend.h"

namespace sl::cuda {
// "cuda": the first GPU, through the driver API (libcuda is opened at run time: a machine
// without a GPU gets an error when it asks for this backend, not when it starts).
runtime::Backend cudaBackend();
}  // namespace sl::cuda
