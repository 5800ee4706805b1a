// The CPU reference backend's entry for a BackendRegistry.
#pragma once

#include "runtime/core/Backend.h"

namespace sl::runtime {
// "cpu": computes in host memory with the reference kernels of runtime/cpu.
Backend cpuBackend();
}  // namespace sl::runtime
