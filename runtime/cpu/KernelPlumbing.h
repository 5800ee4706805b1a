// Plumbing shared by the CPU reference kernels of the Mamba and attention families: arguments
// read by the parameter names of the kernel table, checks that become a Status naming the
// kernel, and a small work-sharing thread pool.
#pragma once

#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sl::cpu::plumbing {

// Runs `body` on the call's arguments bound to template `name` of the kernel table (the
// argument counts checked against it); exceptions (bad template spellings, a count or parameter
// the table does not have) and explicit checks become a Status naming the kernel.
inline Status runKernel(const char *name, const KernelCall &call,
                        const std::function<void(const Args &)> &body) {
  try {
    const Args args(name, call);
    body(args);
  } catch (const std::exception &e) {
    return Status::error(std::string(name) + ": " + e.what());
  }
  return Status::success();
}

inline void require(bool condition, const std::string &message) {
  if (!condition)
    throw std::invalid_argument(message);
}

// Template arguments by parameter name.
inline Elem elemArg(const Args &args, const char *param) {
  return elemOf(args.templateArg(param));
}
inline bool boolArg(const Args &args, const char *param) { return args.templateArg(param) == "true"; }

// A positive integer template argument.
inline int64_t sizeArg(const Args &args, const char *param) {
  const std::string &spelling = args.templateArg(param);
  int64_t value;
  try {
    value = std::stoll(spelling);
  } catch (const std::exception &) {
    throw std::invalid_argument(std::string("template argument ") + param + " = '" + spelling +
                                "' is not an integer");
  }
  require(value > 0, std::string("template argument ") + param + " must be positive");
  return value;
}

// Run-time arguments by parameter name.
inline void *pointerArg(const Args &args, const char *param) {
  void *p = args.arg(param).pointer;
  require(p != nullptr, std::string("pointer argument '") + param + "' is null");
  return p;
}

inline int64_t countArg(const Args &args, const char *param) {
  const int64_t v = args.arg(param).integer;
  require(v >= 0, std::string("argument '") + param + "' is negative");
  return v;
}

inline int64_t strideArg(const Args &args, const char *param, int64_t minimum) {
  const int64_t v = args.arg(param).integer;
  require(v >= minimum, std::string("row stride '") + param + "' = " + std::to_string(v) +
                            " is smaller than the " + std::to_string(minimum) +
                            " columns it must hold");
  return v;
}

// body(i) for i in [0, count), spread over the hardware threads (the caller participates)
// when the work (multiply-adds, roughly) is worth a thread.
inline void parallelFor(int64_t count, int64_t workPerItem,
                 const std::function<void(int64_t)> &body) {
  const int64_t hw = std::max(1u, std::thread::hardware_concurrency());
  const int64_t byWork = std::max<int64_t>(1, count * workPerItem / (1 << 18));  // ~0.1 ms each
  const int64_t workers = std::min({count, hw, byWork});
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t i; (i = next++) < count;)
      body(i);
  };
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < workers; ++w) {
    try {
      pool.emplace_back(work);
    } catch (const std::exception &) {
      break;  // no more threads: the ones we have (and this one) finish the work
    }
  }
  work();
  for (std::thread &t : pool)
    t.join();
}

}  // namespace sl::cpu::plumbing
