// The backends an executable can run artifacts on, by the name --device gives them. Each backend
// library describes itself (runtime/cpu/CpuBackend.h, runtime/cuda/CudaBackend.h); the app layer
// puts them in a registry, so that nothing below it names a backend or compares device strings.
#pragma once

#include "runtime/core/Executor.h"
#include "runtime/core/Model.h"

#include <memory>
#include <string>
#include <vector>

namespace sl::runtime {

struct Backend {
  std::string name;  // the --device spelling
  // Sessions keep their state, and synthesised weights are made, in host memory (a backend that
  // computes there) rather than in the device's.
  bool hostMemory = false;
  // An executor of `model`; `devices`: the GPUs --devices named (empty: the backend's default),
  // one per rank of a tensor-parallel artifact.
  StatusOr<std::unique_ptr<Executor>> (*create)(const Model &model,
                                                const std::vector<int> &devices) = nullptr;
};

class BackendRegistry {
public:
  // A second backend of the same name replaces nothing: it is a programming error.
  void add(Backend backend);
  // The backend called `name`; otherwise an error naming the registered ones.
  StatusOr<const Backend *> find(const std::string &name) const;
  // "cpu or cuda".
  std::string names() const;

private:
  std::vector<Backend> backends_;
};

}  // namespace sl::runtime
