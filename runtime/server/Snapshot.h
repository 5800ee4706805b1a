// Snapshots of a conversation on disk, and the fingerprint that ties them to one model.
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
// Writes go to a temporary file in the same directory, then rename.
#pragma once

#include "runtime/core/Model.h"
#include "runtime/server/Conversation.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sl::server {

// A 64-bit hash (the XXH64 construction) of `size` bytes, continuing from `seed`.
uint64_t hashBytes(const void *data, size_t size, uint64_t seed);

// The artifact's file bytes, every weight binding's name, dtype and shape, and the weight bytes.
StatusOr<uint64_t> computeFingerprint(const runtime::Model &model);
std::string fingerprintHex(uint64_t fingerprint);

// Where snapshot `name` lives in `dir`.
std::string snapshotPath(const std::string &dir, const std::string &name);

// Snapshot names: 1-128 of [A-Za-z0-9._-], not starting with '.'.
bool validSnapshotName(const std::string &name);

enum class SnapshotError { none, notFound, foreignModel, invalid, io, full };

struct SnapshotStatus {
  SnapshotError error = SnapshotError::none;
  std::string message;
  bool ok() const { return error == SnapshotError::none; }
};

// What the snapshot directory may hold (`--max-snapshots`, `--max-snapshot-bytes`): a save that
// would pass either is refused with SnapshotError::full; a larger file is never read.
struct SnapshotLimits {
  size_t maxFiles = 64;
  uint64_t maxBytes = uint64_t(64) << 30;
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

// Saves `conversation` (its state, token history and length) with `meta` as `dir/name.slsnap`.
SnapshotStatus saveSnapshot(const LoadedModel &model, Conversation &conversation,
                            const std::string &dir, const std::string &name,
                            const nlohmann::json &meta, const SnapshotLimits &limits = {});
// Loads `dir/name.slsnap` into `conversation` (which is reset first; left empty on failure);
// `meta` receives the saved meta. A snapshot of another model is SnapshotError::foreignModel.
SnapshotStatus loadSnapshot(const LoadedModel &model, Conversation &conversation,
                            const std::string &dir, const std::string &name,
                            nlohmann::json *meta, const SnapshotLimits &limits = {});

}  // namespace sl::server
