// A session: the per-sequence state of one model (KV caches, Mamba conv/SSM states, the number
// of tokens seen) plus the host tables of its multi-step attention layers. Owned by the caller;
// prefill and decode calls advance it.
#pragma once

#include "runtime/core/Artifact.h"

#include <cstdint>
#include <functional>
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

class Session {
public:
  // State for every slot of `artifact`, for sequences of up to `capacity` tokens. Without
  // `hostState` only the sizes and tables are kept: a device backend holds the state (a 10M-token
  // KV cache needs no 61 GB host copy).
  Session(const Artifact &artifact, int64_t capacity, bool hostState = true);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  // Runs `hook` when the session is destroyed (a device backend frees the session's state).
  void onRelease(std::function<void()> hook) { releaseHooks_.push_back(std::move(hook)); }

  int64_t length() const { return length_; }
  bool hasHostState() const { return hostState_; }
  // Distinct for every session of the process (a backend keeps device state per session).
  uint64_t id() const { return id_; }
  int64_t capacity() const { return capacity_; }
  StateBuffers &state(size_t slot) { return states_.at(slot); }
  const StateBuffers &state(size_t slot) const { return states_.at(slot); }
  size_t slotCount() const { return states_.size(); }
  void advance(int64_t tokens) { length_ += tokens; }
  // Moves the token count back to `length` (0 <= length <= capacity) when the caller restores an
  // earlier point of this sequence: it has put back the Mamba states of that point through
  // state(i); KV rows below `length` are never rewritten by later calls, so they stay valid.
  void restoreLength(int64_t length);
  // Back to an empty sequence (zero state).
  void reset();

private:
  const Artifact &artifact_;
  int64_t capacity_;
  bool hostState_;
  uint64_t id_;
  int64_t length_ = 0;
  std::vector<StateBuffers> states_;
  std::vector<std::function<void()>> releaseHooks_;
};

}  // namespace sl::runtime
