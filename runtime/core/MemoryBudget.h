// What a run will allocate, computed from the artifact before anything is allocated, and what
// the machine has left: a capacity or model too large for memory is an error that names both
// byte counts, not std::bad_alloc (or the kernel's OOM killer) halfway through.
#pragma once

#include "runtime/core/Artifact.h"

#include <cstdint>
#include <optional>
#include <string>

namespace sl::runtime {

// Largest session capacity in tokens: the kernels take positions, lengths and capacities as
// 32-bit integers.
constexpr int64_t kMaxSessionTokens = INT32_MAX;

// Bytes of every weight binding of `artifact` in its binding dtype. An error when a dimension is
// negative or the sum overflows 64 bits.
StatusOr<uint64_t> weightBytes(const Artifact &artifact);

// The state of a session of `capacity` tokens, by part (Session.h): what Session allocates on the
// host (or a device backend on the device), computed without allocating it.
struct SessionBytes {
  uint64_t kvCache = 0;      // K and V of every attention layer
  uint64_t mambaState = 0;   // conv and SSM states
  uint64_t stripeTables = 0; // anchor offsets of the multi-step layers (also on the host)
  uint64_t total() const { return kvCache + mambaState + stripeTables; }
};
// An error when `capacity` is outside [1, kMaxSessionTokens] or a size overflows 64 bits.
// `rank`: only the slots of that plan's functions (one GPU's share of a tensor-parallel
// artifact: its heads); null: every slot.
StatusOr<SessionBytes> sessionBytes(const Artifact &artifact, int64_t capacity,
                                    const sl::schema::Plan *rank = nullptr);

// The largest arena of the artifact's functions in any plan (one call's activations).
uint64_t largestArenaBytes(const Artifact &artifact);

// Host memory this process can still allocate: MemAvailable of /proc/meminfo, lowered to what
// the memory cgroup (v2 or v1) still allows when it sets a limit; nullopt when unknown.
std::optional<uint64_t> availableHostBytes();

// "N bytes (X GiB)".
std::string byteCount(uint64_t bytes);

// Success when `needed` <= `available` (or nothing is known about `available`); otherwise
// "<what>: N bytes (X GiB) of <where> needed, but only M bytes (Y GiB) available".
Status checkFits(const std::string &what, uint64_t needed, std::optional<uint64_t> available,
                 const std::string &where);

// a + b and a * b, or nullopt on 64-bit overflow.
std::optional<uint64_t> addBytes(uint64_t a, uint64_t b);
std::optional<uint64_t> mulBytes(uint64_t a, uint64_t b);

}  // namespace sl::runtime
