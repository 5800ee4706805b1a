// The per-GPU tuning database written by sltune: JSON lines, one measurement per line:
//   {"kernel": "gemm", "target": "sm_90a", "bucket": {"m": 4096, "n": 10304, "k": 2688,
//    "dtype": "bf16"}, "params": {"bm": 128, ...}, "ms": 0.41, "gpu": "NVIDIA H200", ...}
// A lookup matches kernel, target and every bucket key exactly and returns the fastest record.
#pragma once

#include "runtime/support/Status.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sl::compiler {

struct TuningRecord {
  std::string kernel, target;
  std::map<std::string, std::string> bucket;  // values as written (numbers and strings)
  std::map<std::string, int64_t> params;
  double ms = 0.0;
  std::string origin;  // "file:line", shown in the IR as the choice's source
};

class TuningDatabase {
public:
  // The committed database of `gpu` in `directory` (`<directory>/<gpu>.jsonl`); an error names
  // the databases there when it has none.
  static StatusOr<std::string> forGpu(const std::string &directory, const std::string &gpu);
  // Reads `path`; a malformed line is an error naming the file and line. Records of candidates
  // that failed their check (a "failed" key, written by sltune) are skipped.
  static StatusOr<TuningDatabase> load(const std::string &path);

  std::optional<TuningRecord> lookup(const std::string &kernel, const std::string &target,
                                     const std::map<std::string, std::string> &bucket) const;

private:
  std::vector<TuningRecord> records_;
};

}  // namespace sl::compiler
