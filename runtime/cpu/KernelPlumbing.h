// Plumbing shared by the CPU reference kernels of the Mamba and attention families: argument
// checks that become a Status naming the kernel, and a small work-sharing thread pool.
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

// Runs `body` after checking the argument counts; exceptions (bad template spellings) and
// explicit checks become a Status naming the kernel.
inline Status runKernel(const char *name, const KernelCall &call, size_t templateCount,
                 size_t argCount, const std::function<void()> &body) {
  if (call.templateArgs.size() != templateCount)
    return Status::error(std::string(name) + ": expected " + std::to_string(templateCount) +
                         " template arguments, got " + std::to_string(call.templateArgs.size()));
  if (call.args.size() != argCount)
    return Status::error(std::string(name) + ": expected " + std::to_string(argCount) +
                         " run-time arguments, got " + std::to_string(call.args.size()));
  try {
    body();
  } catch (const std::exception &e) {
    return Status::error(std::string(name) + ": " + e.what());
  }
  return Status::success();
}

inline void require(bool condition, const std::string &message) {
  if (!condition)
    throw std::invalid_argument(message);
}

// A positive integer template argument.
inline int64_t sizeArg(const KernelCall &call, size_t index, const char *what) {
  int64_t value;
  try {
    value = intArg(call, index);
  } catch (const std::exception &) {
    throw std::invalid_argument(std::string("template argument ") + what + " = '" +
                                call.templateArgs.at(index) + "' is not an integer");
  }
  require(value > 0, std::string("template argument ") + what + " must be positive");
  return value;
}

inline void *pointerArg(const KernelCall &call, size_t index, const char *what) {
  void *p = call.args.at(index).pointer;
  require(p != nullptr, std::string("pointer argument '") + what + "' is null");
  return p;
}

inline int64_t countArg(const KernelCall &call, size_t index, const char *what) {
  const int64_t v = call.args.at(index).integer;
  require(v >= 0, std::string("argument '") + what + "' is negative");
  return v;
}

inline int64_t strideArg(const KernelCall &call, size_t index, const char *what, int64_t minimum) {
  const int64_t v = call.args.at(index).integer;
  require(v >= minimum, std::string("row stride '") + what + "' = " + std::to_string(v) +
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
