// A session: the per-sequence state of one model (KV caches, Mamba conv/SSM states, the number
// of tokens seen) plus the host tables of its multi-step attention layers, and what the executor
// that runs it keeps of it (its BackendState). Owned by the caller; prefill and decode calls
// advance it.
#pragma once

#include "runtime/core/Artifact.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace sl::runtime {

// Bytes of one element of a schema dtype.
int64_t dtypeBytes(sl::schema::DType dtype);

struct StateBuffers {
  std::vector<uint8_t> k, v;        // KV cache: [kv_heads][capacity][head_dim] each
  std::vector<uint8_t> conv, ssm;   // Mamba: conv [channels][kernel-1], ssm [heads][head_dim][state]
  std::vector<int64_t> anchorOffsets;  // multi-step layers: floor_power(sw_index+1+i) - 1
  // Bytes of each part, also when the host copy is not kept (state on a device).
  size_t kBytes = 0, convBytes = 0, ssmBytes = 0;
};

// What an executor keeps of one session besides its host buffers (the CUDA backend: the device
// copies of its caches and states; the CPU backend: nothing). Made by the executor of the
// session's first call and owned by the session, so destroying the session frees it; it names
// that executor (Executor::id()), which alone may run the session.
class BackendState {
public:
  explicit BackendState(uint64_t executor) : executor_(executor) {}
  virtual ~BackendState() = default;
  BackendState(const BackendState &) = delete;
  BackendState &operator=(const BackendState &) = delete;
  uint64_t executor() const { return executor_; }

private:
  uint64_t executor_;
};

class Session {
public:
  // State for every slot of `artifact`, for sequences of up to `capacity` tokens. Without
  // `hostState` only the sizes and tables are kept: a device backend holds the state (a 10M-token
  // KV cache needs no 61 GB host copy).
  Session(const Artifact &artifact, int64_t capacity, bool hostState = true);
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  int64_t length() const { return length_; }
  bool hasHostState() const { return hostState_; }
  int64_t capacity() const { return capacity_; }
  StateBuffers &state(size_t slot) { return states_.at(slot); }
  const StateBuffers &state(size_t slot) const { return states_.at(slot); }
  size_t slotCount() const { return states_.size(); }
  void advance(int64_t tokens) { length_ += tokens; }
  // Moves the token count back to `length` (0 <= length <= capacity) when the caller restores an
  // earlier point of this sequence: it has put back the Mamba states of that point through
  // state(i); KV rows below `length` are never rewritten by later calls, so they stay valid.
  void restoreLength(int64_t length);
  // Back to an empty sequence (zero state). The backend state stays (the executor reuses its
  // allocations and zeroes what an empty sequence reads).
  void reset();
  // The executor's state of this session: null until an executor first ran it.
  BackendState *backendState() const { return backendState_.get(); }
  void setBackendState(std::unique_ptr<BackendState> state) { backendState_ = std::move(state); }

private:
  const Artifact &artifact_;
  int64_t capacity_;
  bool hostState_;
  int64_t length_ = 0;
  std::vector<StateBuffers> states_;
  std::unique_ptr<BackendState> backendState_;
};

}  // namespace sl::runtime
