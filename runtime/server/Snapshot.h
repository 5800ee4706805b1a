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

namespace sl::server {

// A 64-bit hash (the XXH64 construction) of `size` bytes, continuing from `seed`.
uint64_t hashBytes(const void *data, size_t size, uint64_t seed);

// The artifact's file bytes, every weight binding's name, dtype and shape, and the weight bytes.
StatusOr<uint64_t> computeFingerprint(const runtime::Model &model);
std::string fingerprintHex(uint64_t fingerprint);

// Snapshot names: 1-128 of [A-Za-z0-9._-], not starting with '.'.
bool validSnapshotName(const std::string &name);

enum class SnapshotError { none, notFound, foreignModel, invalid, io };

struct SnapshotStatus {
  SnapshotError error = SnapshotError::none;
  std::string message;
  bool ok() const { return error == SnapshotError::none; }
};

// Saves `conversation` (its state, token history and length) with `meta` as `dir/name.slsnap`.
SnapshotStatus saveSnapshot(const LoadedModel &model, Conversation &conversation,
                            const std::string &dir, const std::string &name,
                            const nlohmann::json &meta, std::string *path);
// Loads `dir/name.slsnap` into `conversation` (which is reset first; left empty on failure);
// `meta` receives the saved meta. A snapshot of another model is SnapshotError::foreignModel.
SnapshotStatus loadSnapshot(const LoadedModel &model, Conversation &conversation,
                            const std::string &dir, const std::string &name,
                            nlohmann::json *meta);

}  // namespace sl::server
