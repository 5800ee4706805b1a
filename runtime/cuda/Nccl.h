// NCCL, the collective library of multi-GPU runs (slrun --devices), opened with dlopen like
// libcuda: slrun starts and runs one GPU or the CPU backend on machines without it. The library
// comes from its PyPI wheel (nvidia-nccl-cu13) or wherever SL_NCCL_LIBRARY points. Only the few
// entry points the runtime calls are declared here; their types are NCCL's stable C ABI (enums
// passed as int, streams as CUstream).
#pragma once

#include "runtime/support/Status.h"

#include <cuda.h>

#include <string>
#include <vector>

namespace sl::cuda {

struct Nccl {
  using Result = int;             // ncclResult_t: 0 = ncclSuccess
  using Comm = struct ncclComm *;  // ncclComm_t
  // ncclDataType_t and ncclRedOp_t values the runtime uses.
  static constexpr int kFloat16 = 6, kFloat32 = 7, kBfloat16 = 9, kSum = 0;

  Result (*ncclGetVersion)(int *);
  const char *(*ncclGetErrorString)(Result);
  Result (*ncclCommInitAll)(Comm *, int, const int *);
  Result (*ncclCommDestroy)(Comm);
  Result (*ncclCommAbort)(Comm);
  Result (*ncclAllReduce)(const void *, void *, size_t, int, int, Comm, CUstream);

  std::string path;  // the file that was opened
  int version = 0;   // major * 10000 + minor * 100 + patch

  // The places looked at, in order: $SL_NCCL_LIBRARY (then nothing else), libnccl.so.2 next to
  // the executable and in ../lib, the dynamic loader's search path, the nvidia-nccl wheel of
  // `python3` (site-packages/nvidia/nccl/lib).
  static std::vector<std::string> candidates();
  // Opens the first candidate that loads and has every entry point; the error names what was
  // tried and how to install the wheel.
  static StatusOr<Nccl> open(const std::vector<std::string> &candidates);
  // open(candidates()), once per process.
  static StatusOr<const Nccl *> get();

  // "ncclAllReduce failed: unhandled cuda error (1) [what]".
  Status check(Result result, const char *call, const std::string &what = "") const;
  // "2.23.4".
  std::string versionText() const;
};

}  // namespace sl::cuda
