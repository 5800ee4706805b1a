#include "runtime/cuda/CudaDriver.h"

#include <dlfcn.h>

namespace sl::cuda {

namespace {
StatusOr<Driver> open() {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library)
    return Status::error(std::string("no CUDA driver: dlopen(libcuda.so.1) failed: ") +
                         dlerror());
  Driver driver{};
  std::string missing;
  auto load = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(library, name));
    if (!fn)
      missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  load(driver.cuInit, "cuInit");
  load(driver.cuDeviceGet, "cuDeviceGet");
  load(driver.cuDeviceGetCount, "cuDeviceGetCount");
  load(driver.cuDeviceGetName, "cuDeviceGetName");
  load(driver.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  load(driver.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  load(driver.cuCtxSetCurrent, "cuCtxSetCurrent");
  load(driver.cuCtxSynchronize, "cuCtxSynchronize");
  load(driver.cuModuleLoadData, "cuModuleLoadData");
  load(driver.cuModuleGetFunction, "cuModuleGetFunction");
  load(driver.cuFuncSetAttribute, "cuFuncSetAttribute");
  load(driver.cuLaunchKernel, "cuLaunchKernel");
  load(driver.cuMemAlloc, "cuMemAlloc_v2");
  load(driver.cuMemFree, "cuMemFree_v2");
  load(driver.cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  load(driver.cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  load(driver.cuMemsetD8, "cuMemsetD8_v2");
  load(driver.cuStreamCreate, "cuStreamCreate");
  load(driver.cuStreamSynchronize, "cuStreamSynchronize");
  load(driver.cuGetErrorName, "cuGetErrorName");
  if (!missing.empty())
    return Status::error("libcuda.so.1 lacks " + missing);
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
