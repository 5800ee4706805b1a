#include "runtime/server/Snapshot.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

namespace sl::server {

using nlohmann::json;
using runtime::dtypeBytes;
using sl::schema::StateKind;

namespace {

// Bytes of one KV row and the number of heads of a KV slot.
void kvGeometry(const sl::schema::StateSlot *slot, size_t *rowBytes, size_t *heads) {
  *rowBytes = size_t(slot->head_dim()) * dtypeBytes(slot->dtype());
  *heads = size_t(slot->kv_heads());
}

// The layout of `model`'s state for `session`.
SnapshotLayout layoutOf(const LoadedModel &model, const runtime::Session &session) {
  SnapshotLayout layout;
  layout.fingerprint = model.fingerprint;
  layout.capacity = session.capacity();
  layout.vocab = model.engine->vocab();
  const auto *slots = model.model->artifact().root().states();
  for (size_t i = 0; i < session.slotCount(); ++i) {
    SnapshotLayout::Slot slot;
    if (slots->Get(i)->kind() == StateKind::kv_cache) {
      slot.kv = true;
      kvGeometry(slots->Get(i), &slot.rowBytes, &slot.heads);
    } else {
      slot.convBytes = session.state(i).conv.size();
      slot.ssmBytes = session.state(i).ssm.size();
    }
    layout.slots.push_back(slot);
  }
  return layout;
}

// The .slsnap files of `dir` other than `except`: their count and total bytes.
void directoryUsage(const std::string &dir, const std::string &except, size_t *files,
                    uint64_t *bytes) {
  *files = 0;
  *bytes = 0;
  std::error_code error;
  for (const auto &entry : std::filesystem::directory_iterator(dir, error)) {
    if (!entry.is_regular_file(error) || entry.path().extension() != ".slsnap" ||
        entry.path().filename() == except)
      continue;
    ++*files;
    *bytes += entry.file_size(error);
  }
}

}  // namespace

std::string snapshotPath(const std::string &dir, const std::string &name) {
  return (dir.empty() ? std::string(".") : dir) + "/" + name + ".slsnap";
}

StatusOr<uint64_t> computeFingerprint(const runtime::Model &model) {
  const std::string &path = model.artifact().path();
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(path + ": cannot read the artifact to fingerprint it");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t h = hashBytes(bytes.data(), bytes.size(), 0x534c);  // "SL"
  const auto *bindings = model.artifact().root().weights();
  const auto &weights = model.weights();
  for (size_t i = 0; bindings && i < bindings->size(); ++i) {
    const auto *binding = bindings->Get(i);
    std::string description = (binding->name() ? binding->name()->str() : std::string()) + ":" +
                              std::to_string(int(binding->dtype()));
    if (binding->shape())
      for (int64_t d : *binding->shape())
        description += "," + std::to_string(d);
    h = hashBytes(description.data(), description.size(), h);
    if (i < weights.size())
      h = hashBytes(weights[i].data(), weights[i].size(), h);
  }
  return h;
}

bool validSnapshotName(const std::string &name) {
  if (name.empty() || name.size() > 128 || name[0] == '.')
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

SnapshotStatus saveSnapshot(const LoadedModel &model, Conversation &conversation,
                            const std::string &dir, const std::string &name, const json &meta,
                            const SnapshotLimits &limits) {
  if (!validSnapshotName(name))
    return {SnapshotError::invalid,
            "invalid snapshot name '" + name + "' (1-128 of A-Z a-z 0-9 . _ -, no leading dot)"};
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return {SnapshotError::io,
            "cannot create the snapshot directory (--snapshot-dir): " + std::string(std::strerror(errno))};
  // On a device backend the state (KV rows below the length too) comes to the host first.
  if (Status status = model.engine->executor().stateToHost(conversation.session(), /*kv=*/true);
      !status)
    return {SnapshotError::io, "cannot read the session state: " + status.message()};
  const runtime::Session &session = conversation.session();
  const auto *slots = model.model->artifact().root().states();
  const int64_t length = session.length();
  const std::vector<int32_t> &history = conversation.history();
  if (int64_t(history.size()) != length)
    return {SnapshotError::invalid, "the session's history and state disagree"};

  json header = {{"version", kSnapshotVersion}, {"model", model.id}, {"length", length},
                 {"fingerprint", fingerprintHex(model.fingerprint)}, {"meta", meta}};
  std::string body;
  body.append(reinterpret_cast<const char *>(history.data()), history.size() * sizeof(int32_t));
  json slotList = json::array();
  for (size_t i = 0; i < session.slotCount(); ++i) {
    const auto *slot = slots->Get(i);
    const runtime::StateBuffers &state = session.state(i);
    size_t before = body.size();
    if (slot->kind() == StateKind::kv_cache) {
      size_t rowBytes, heads;
      kvGeometry(slot, &rowBytes, &heads);
      for (const std::vector<uint8_t> *part : {&state.k, &state.v})
        for (size_t h = 0; h < heads; ++h)
          body.append(reinterpret_cast<const char *>(part->data()) +
                          h * session.capacity() * rowBytes,
                      size_t(length) * rowBytes);
      slotList.push_back({{"kind", "kv"}, {"bytes", body.size() - before}});
    } else {
      body.append(reinterpret_cast<const char *>(state.conv.data()), state.conv.size());
      body.append(reinterpret_cast<const char *>(state.ssm.data()), state.ssm.size());
      slotList.push_back({{"kind", "mamba"}, {"bytes", body.size() - before}});
    }
  }
  header["slots"] = slotList;
  // The checkpoints (Mamba states at earlier turn boundaries), so that a restored session reuses
  // its prefix exactly as the original would.
  json checkpointLengths = json::array();
  for (const Checkpoint &checkpoint : conversation.checkpoints()) {
    checkpointLengths.push_back(checkpoint.length);
    for (size_t i = 0; i < checkpoint.conv.size(); ++i) {
      body.append(reinterpret_cast<const char *>(checkpoint.conv[i].data()),
                  checkpoint.conv[i].size());
      body.append(reinterpret_cast<const char *>(checkpoint.ssm[i].data()),
                  checkpoint.ssm[i].size());
    }
  }
  header["checkpoints"] = checkpointLengths;
  std::string headerText = header.dump(-1, ' ', false, json::error_handler_t::replace);

  std::string file(kSnapshotMagic, 8);
  uint64_t fingerprint = model.fingerprint;
  file.append(reinterpret_cast<const char *>(&fingerprint), 8);
  uint32_t headerSize = uint32_t(headerText.size());
  file.append(reinterpret_cast<const char *>(&headerSize), 4);
  file += headerText;
  file += body;
  uint64_t checksum = hashBytes(file.data(), file.size(), 0);
  file.append(reinterpret_cast<const char *>(&checksum), 8);

  std::string path = snapshotPath(dir, name);
  size_t files = 0;
  uint64_t bytes = 0;
  directoryUsage(dir, name + ".slsnap", &files, &bytes);
  if (files + 1 > limits.maxFiles)
    return {SnapshotError::full, "the snapshot directory already holds " + std::to_string(files) +
                                     " snapshots (--max-snapshots " +
                                     std::to_string(limits.maxFiles) + "); delete some first"};
  if (bytes + file.size() > limits.maxBytes)
    return {SnapshotError::full,
            "this snapshot of " + std::to_string(file.size()) + " bytes would bring the snapshot "
            "directory to " + std::to_string(bytes + file.size()) + " bytes (--max-snapshot-bytes " +
            std::to_string(limits.maxBytes) + ")"};
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out)
      return {SnapshotError::io, "cannot write snapshot '" + name + "': " + std::strerror(errno)};
    out.write(file.data(), std::streamsize(file.size()));
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      return {SnapshotError::io, "cannot write snapshot '" + name + "' (disk full?)"};
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string error = std::strerror(errno);
    std::remove(temp.c_str());
    return {SnapshotError::io, "cannot store snapshot '" + name + "': " + error};
  }
  return {};
}

SnapshotStatus loadSnapshot(const LoadedModel &model, Conversation &conversation,
                            const std::string &dir, const std::string &name, json *meta,
                            const SnapshotLimits &limits) {
  if (!validSnapshotName(name))
    return {SnapshotError::invalid,
            "invalid snapshot name '" + name + "' (1-128 of A-Z a-z 0-9 . _ -, no leading dot)"};
  std::string path = snapshotPath(dir, name);
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    return {SnapshotError::notFound, "no snapshot '" + name + "'"};
  uint64_t size = std::filesystem::file_size(path, error);
  if (error || size > limits.maxBytes)
    return {SnapshotError::invalid, "snapshot '" + name + "' is larger than --max-snapshot-bytes (" +
                                        std::to_string(limits.maxBytes) + ")"};
  std::ifstream in(path, std::ios::binary);
  std::string file(size_t(size), '\0');
  if (!in || !in.read(file.data(), std::streamsize(size)))
    return {SnapshotError::io, "cannot read snapshot '" + name + "'"};

  runtime::Session &session = conversation.session();
  SnapshotContents contents;
  SnapshotStatus status = decodeSnapshot(file, layoutOf(model, session), name, &contents);
  if (!status.ok())
    return status;
  file.clear();
  file.shrink_to_fit();

  conversation.reset();
  const int64_t length = int64_t(contents.history.size());
  const auto *slots = model.model->artifact().root().states();
  for (size_t i = 0; i < session.slotCount(); ++i) {
    runtime::StateBuffers &state = session.state(i);
    const char *p = contents.slotBytes[i].data();
    if (slots->Get(i)->kind() == StateKind::kv_cache) {
      size_t rowBytes, heads;
      kvGeometry(slots->Get(i), &rowBytes, &heads);
      for (std::vector<uint8_t> *part : {&state.k, &state.v})
        for (size_t h = 0; h < heads; ++h) {
          std::memcpy(part->data() + h * session.capacity() * rowBytes, p,
                      size_t(length) * rowBytes);
          p += size_t(length) * rowBytes;
        }
    } else {
      std::memcpy(state.conv.data(), p, state.conv.size());
      std::memcpy(state.ssm.data(), p + state.conv.size(), state.ssm.size());
    }
  }
  session.restoreLength(length);
  if (Status restored = model.engine->executor().stateToDevice(session, /*kv=*/true); !restored) {
    conversation.reset();
    return {SnapshotError::io, "cannot restore the session state: " + restored.message()};
  }
  conversation.mutableHistory() = std::move(contents.history);
  conversation.setCheckpoints(std::deque<Checkpoint>(
      std::make_move_iterator(contents.checkpoints.begin()),
      std::make_move_iterator(contents.checkpoints.end())));
  if (meta)
    *meta = std::move(contents.meta);
  return {};
}

}  // namespace sl::server
