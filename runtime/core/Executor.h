// A backend that runs one function of an artifact: the CPU reference backend or the CUDA one.
#pragma once

#include "runtime/core/Artifact.h"
#include "runtime/core/Session.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sl::runtime {

// One output of a call: its bytes, element type and shape (token dimension resolved).
struct Tensor {
  sl::schema::DType dtype = sl::schema::DType::f32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// What every backend checks before a call: the token count against the function, the inputs,
// the session's capacity. The message names the function.
Status checkCall(const sl::schema::Function &function, const Session &session, size_t inputs,
                 int64_t tokens);

// The per-call span-reach table of a multi-step layer: {ceil(bf t^sp), ceil(ff t^sp)} for the
// queries at positions start .. start + tokens - 1 (t = position + 1).
std::vector<int32_t> spanReachTable(const sl::schema::MultiStepConfig &msa, int64_t start,
                                    int64_t tokens);

// Which rows of the token dimension (dimension 0) of a call's outputs the caller reads back; the
// others stay in the backend (a prefill chunk needs the last position's logits at most, not
// [tokens, vocab] of them).
enum class OutputRows { all, last, none };

// The token rows `rows` keeps of a call of `tokens` tokens (what output-rows launches run for).
int64_t outputRowCount(OutputRows rows, int64_t tokens);

// Output i of `function` for a call of `tokens` tokens, limited to `rows`: dtype, shape (token
// dimension resolved) and zeroed bytes of the right size, for the backend to fill from byte
// `*offset` of the whole output.
Tensor outputTensor(const sl::schema::Function &function, size_t i, int64_t tokens,
                    OutputRows rows, size_t *offset);

// A buffer argument of one launch, copied to the host right after that launch ran (a later
// launch may reuse its arena bytes, so the buffer may hold something else once the call is
// over): argument `arg` of launch `launch` (its index in the function's launch list), `rowBytes`
// bytes for each token row the launch ran for.
struct Capture {
  size_t launch = 0;
  size_t arg = 0;
  int64_t rowBytes = 0;
};

// What one call captured: the function, its token count, the bytes of each of its captures (in
// the order they were set; empty when the launch did not run).
struct CapturedCall {
  std::string function;
  int64_t tokens = 0;
  std::vector<std::vector<uint8_t>> buffers;
};

// Where `capture`'s bytes start in `function`'s arena for a launch that ran for `rows` rows,
// `skippedRows` rows on (an output-rows launch); an error unless the argument is an arena buffer
// that holds those rows.
StatusOr<int64_t> captureOffset(const sl::schema::Function &function, const Capture &capture,
                                int64_t rows, int64_t skippedRows);

class Executor {
public:
  // Runs the launch lists of `plan` (one of the artifact's plans: the one for its GPU).
  explicit Executor(const sl::schema::Plan &plan);
  virtual ~Executor() = default;
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;
  // Distinct for every executor of the process (BackendState::executor()).
  uint64_t id() const { return id_; }
  // The plan this executor runs, and its function of the name of `function` (callers take a
  // function's interface from the artifact's first plan; every plan has the same ones).
  const sl::schema::Plan &plan() const { return *plan_; }
  StatusOr<const sl::schema::Function *> own(const sl::schema::Function &function) const;
  // Runs `function` on `tokens` new tokens: `inputs[i]` points to input i in host memory (its
  // shape with the token dimension = tokens). Advances `session` by `tokens` when the function
  // has state. Outputs hold the token rows `rows` only.
  virtual StatusOr<std::vector<Tensor>> call(const sl::schema::Function &function,
                                             Session &session,
                                             const std::vector<const void *> &inputs,
                                             int64_t tokens, OutputRows rows = OutputRows::all) = 0;
  // Fills the session's KV caches and Mamba states with synthetic values as if `length` tokens
  // had been seen (benchmarks at long context without prefilling it).
  virtual Status synthesizeState(Session &session, int64_t length, uint64_t seed) = 0;
  // A device backend's copy of a session's state into the session's host buffers (the Mamba
  // states; with `kv` also the KV rows below its length), and back (for checkpoints and
  // snapshots, which work on the host buffers). The CPU backend computes in the host buffers:
  // nothing to do but refuse another executor's session.
  virtual Status stateToHost(Session &session, bool /*kv*/) { return checkOwner(session); }
  virtual Status stateToDevice(Session &session, bool /*kv*/) { return checkOwner(session); }

  // What a device backend knows of its device; the CPU backend computes in host memory and has
  // none of it (nullopt / false), so callers need not know which backend they hold.
  struct KernelTime { double ms = 0; int64_t launches = 0; };
  virtual std::optional<std::string> deviceName() const { return std::nullopt; }
  virtual std::optional<int> deviceMultiprocessors() const { return std::nullopt; }
  // Free and total device memory, in bytes.
  virtual std::optional<std::pair<size_t, size_t>> deviceMemory() const { return std::nullopt; }
  // Device time of the last call's kernels (input and output copies excluded).
  virtual std::optional<double> lastCallDeviceMs() const { return std::nullopt; }
  // Per-kernel device time of every following call, summed by kernel name into `profile`
  // (nullptr stops); false when the backend cannot time kernels.
  virtual bool setProfile(std::map<std::string, KernelTime> * /*profile*/) { return false; }

  // From now on every call of `function` copies `captures` to the host as their launches run
  // and logs them for takeCaptured() (an empty list stops it). None by default: a call without
  // captures costs nothing more (the CUDA backend launches kernel by kernel while capturing).
  void setCaptures(const std::string &function, std::vector<Capture> captures);
  // The calls captured since the last takeCaptured(), in call order.
  std::vector<CapturedCall> takeCaptured() { return std::exchange(captured_, {}); }

protected:
  // A session stays with the executor of its first call, which made its BackendState (device
  // state, tables of this executor's artifact): an error when another executor made it.
  Status checkOwner(const Session &session) const;
  // The captures of `function` (null when none).
  const std::vector<Capture> *capturesOf(const std::string &function) const;
  void logCaptured(CapturedCall call) { captured_.push_back(std::move(call)); }

private:
  const sl::schema::Plan *plan_;
  uint64_t id_;
  std::map<std::string, std::vector<Capture>> captures_;
  std::vector<CapturedCall> captured_;
};

}  // namespace sl::runtime
