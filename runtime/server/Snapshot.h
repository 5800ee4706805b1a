// Snapshots of a conversation on disk (format: SnapshotFormat.h), and the fingerprint that ties
// them to one model. Writes go to a temporary file in the same directory, then rename.
#pragma once

#include "runtime/core/Model.h"
#include "runtime/server/Conversation.h"
#include "runtime/server/SnapshotFormat.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sl::server {

// The artifact's file bytes, every weight binding's name, dtype and shape, and the weight bytes.
StatusOr<uint64_t> computeFingerprint(const runtime::Model &model);

// Where snapshot `name` lives in `dir`.
std::string snapshotPath(const std::string &dir, const std::string &name);

// Snapshot names: 1-128 of [A-Za-z0-9._-], not starting with '.'.
bool validSnapshotName(const std::string &name);

// What the snapshot directory may hold (`--max-snapshots`, `--max-snapshot-bytes`): a save that
// would pass either is refused with SnapshotError::full; a larger file is never read.
struct SnapshotLimits {
  size_t maxFiles = 64;
  uint64_t maxBytes = uint64_t(64) << 30;
};

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
