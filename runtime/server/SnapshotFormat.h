// The snapshot file format, without the model: hashing, the layout a file must match, and the
// decoder that checks every field of a file before anything is used (fuzzed alone).
//
// File layout (little endian):
//   bytes 0..8    magic "SLSNAP01"
//   bytes 8..16   the fingerprint (uint64) of the model that wrote it
//   bytes 16..20  n: byte length of the JSON header that follows
//   n bytes       header: {"version":1, "model":ID, "length":L, "slots":[{"kind", "bytes"}...],
//                 "checkpoints":[lengths], "meta":{...}}
//   L int32       the token history
//   per slot      KV cache: K then V, rows [0, L) of every head ([kv_heads][L][head_dim]);
//                 Mamba: the conv state, then the SSM state
//   per checkpoint (the header's "checkpoints": their lengths), per slot: the conv state, then
//                 the SSM state (nothing for KV slots)
//   8 bytes       XXH64-style checksum of everything before it
#pragma once

#include "runtime/server/Conversation.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sl::server {

inline constexpr char kSnapshotMagic[9] = "SLSNAP01";
inline constexpr int kSnapshotVersion = 1;

// A 64-bit hash (the XXH64 construction) of `size` bytes, continuing from `seed`.
uint64_t hashBytes(const void *data, size_t size, uint64_t seed);
std::string fingerprintHex(uint64_t fingerprint);

enum class SnapshotError { none, notFound, foreignModel, invalid, io, full };

struct SnapshotStatus {
  SnapshotError error = SnapshotError::none;
  std::string message;
  bool ok() const { return error == SnapshotError::none; }
};

// The state geometry a snapshot must match: taken from the loaded model and session.
struct SnapshotLayout {
  uint64_t fingerprint = 0;
  int64_t capacity = 0, vocab = 0;
  struct Slot {
    bool kv = false;
    size_t heads = 0, rowBytes = 0;     // KV: per head, `length` rows of rowBytes (K, then V)
    size_t convBytes = 0, ssmBytes = 0; // Mamba
  };
  std::vector<Slot> slots;
};

// A decoded snapshot: the history, then per slot its bytes in file order.
struct SnapshotContents {
  std::vector<int32_t> history;
  std::vector<std::string> slotBytes;
  std::vector<Checkpoint> checkpoints;
  nlohmann::json meta = nlohmann::json::object();
};

// Decodes the bytes of a snapshot file against `layout`; every field is checked (types, ranges,
// sizes, checksum) before use. Messages do not contain paths.
SnapshotStatus decodeSnapshot(std::string_view file, const SnapshotLayout &layout,
                              const std::string &name, SnapshotContents *out);

}  // namespace sl::server
