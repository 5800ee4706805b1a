// Entry points of a library opened with dlopen (libcuda, NCCL), looked up into typed function
// pointers; the names that are missing are collected for one error message.
#pragma once

#include <dlfcn.h>

#include <string>
#include <type_traits>

namespace sl::cuda {

class Symbols {
public:
  explicit Symbols(void *library) : library_(library) {}
  // `fn` = the symbol `name` (null and noted as missing when the library lacks it).
  template <typename Fn> void load(Fn &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<Fn>>(dlsym(library_, name));
    if (!fn)
      missing_ += std::string(missing_.empty() ? "" : ", ") + name;
  }
  // "cuInit, cuDeviceGet"; empty when every lookup succeeded.
  const std::string &missing() const { return missing_; }

private:
  void *library_;
  std::string missing_;
};

}  // namespace sl::cuda
