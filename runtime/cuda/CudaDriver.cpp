#include "runtime/cuda/CudaDriver.h"

#include "runtime/cuda/Symbols.h"

#include <dlfcn.h>

// cuda.h maps many entry points to versioned symbols (cuMemAlloc -> cuMemAlloc_v2): the symbol
// looked up is the macro-expanded name, so it always matches the prototype of the header.
#define SL_SYMBOL_NAME(x) #x
#define SL_LOAD(fn) symbols.load(driver.fn, SL_SYMBOL_NAME(fn))

namespace sl::cuda {

namespace {
StatusOr<Driver> open() {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library)
    return Status::error(std::string("no CUDA driver: dlopen(libcuda.so.1) failed: ") +
                         dlerror());
  Driver driver{};
  Symbols symbols(library);
  SL_LOAD(cuInit);
  SL_LOAD(cuDeviceGet);
  SL_LOAD(cuDeviceGetCount);
  SL_LOAD(cuDeviceGetName);
  SL_LOAD(cuDeviceGetAttribute);
  SL_LOAD(cuDevicePrimaryCtxRetain);
  SL_LOAD(cuCtxSetCurrent);
  SL_LOAD(cuCtxSynchronize);
  SL_LOAD(cuModuleLoadData);
  SL_LOAD(cuModuleGetFunction);
  SL_LOAD(cuFuncSetAttribute);
  SL_LOAD(cuLaunchKernel);
  SL_LOAD(cuMemAlloc);
  SL_LOAD(cuMemFree);
  SL_LOAD(cuMemcpyHtoD);
  SL_LOAD(cuMemcpyDtoH);
  SL_LOAD(cuMemsetD8);
  SL_LOAD(cuStreamCreate);
  SL_LOAD(cuStreamSynchronize);
  SL_LOAD(cuGetErrorName);
  SL_LOAD(cuMemGetInfo);
  SL_LOAD(cuEventCreate);
  SL_LOAD(cuEventRecord);
  SL_LOAD(cuEventElapsedTime);
  SL_LOAD(cuGraphCreate);
  SL_LOAD(cuGraphAddKernelNode);
  SL_LOAD(cuGraphInstantiate);
  SL_LOAD(cuGraphExecKernelNodeSetParams);
  SL_LOAD(cuGraphLaunch);
  SL_LOAD(cuGraphExecDestroy);
  SL_LOAD(cuGraphDestroy);
  SL_LOAD(cuStreamBeginCapture);
  SL_LOAD(cuStreamEndCapture);
  SL_LOAD(cuStreamGetCaptureInfo);
  if (!symbols.missing().empty())
    return Status::error("libcuda.so.1 lacks " + symbols.missing());
  if (Status status = driver.check(driver.cuInit(0), "cuInit"); !status)
    return status;
  int count = 0;
  if (Status status = driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount"); !status)
    return status;
  if (count == 0)
    return Status::error("the CUDA driver reports no device");
  return driver;
}
}  // namespace

StatusOr<const Driver *> Driver::get() {
  static const StatusOr<Driver> driver = open();
  if (!driver)
    return driver.status();
  return &driver.value();
}

Status Driver::check(CUresult result, const char *call, const std::string &what) const {
  if (result == CUDA_SUCCESS)
    return Status::success();
  const char *name = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != CUDA_SUCCESS || !name)
    name = "unknown CUDA error";
  return Status::error(std::string(call) + " failed: " + name + " (" + std::to_string(result) +
                       ")" + (what.empty() ? "" : " [" + what + "]"));
}

}  // namespace sl::cuda
