#include "runtime/server/SnapshotFormat.h"

#include "runtime/io/Json.h"

#include <cstdio>
#include <cstring>

namespace sl::server {

using nlohmann::json;

namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL,
                   P3 = 0x165667B19E3779F9ULL, P4 = 0x85EBCA77C2B2AE63ULL,
                   P5 = 0x27D4EB2F165667C5ULL;
const nlohmann::json kEmptyArray = nlohmann::json::array();

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t read64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t read32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t round64(uint64_t acc, uint64_t input) {
  acc += input * P2;
  return rotl(acc, 31) * P1;
}
inline uint64_t merge(uint64_t acc, uint64_t value) {
  acc ^= round64(0, value);
  return acc * P1 + P4;
}

}  // namespace

uint64_t hashBytes(const void *data, size_t size, uint64_t seed) {
  const uint8_t *p = static_cast<const uint8_t *>(data), *end = p + size;
  uint64_t h;
  if (size >= 32) {
    uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    for (; p + 32 <= end; p += 32) {
      v1 = round64(v1, read64(p));
      v2 = round64(v2, read64(p + 8));
      v3 = round64(v3, read64(p + 16));
      v4 = round64(v4, read64(p + 24));
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = seed + P5;
  }
  h += uint64_t(size);
  for (; p + 8 <= end; p += 8)
    h = rotl(h ^ round64(0, read64(p)), 27) * P1 + P4;
  if (p + 4 <= end) {
    h = rotl(h ^ (uint64_t(read32(p)) * P1), 23) * P2 + P3;
    p += 4;
  }
  for (; p < end; ++p)
    h = rotl(h ^ (*p * P5), 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

std::string fingerprintHex(uint64_t fingerprint) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(fingerprint));
  return buffer;
}

SnapshotStatus decodeSnapshot(std::string_view file, const SnapshotLayout &layout,
                              const std::string &name, SnapshotContents *out) {
  auto invalid = [&](const std::string &why) {
    return SnapshotStatus{SnapshotError::invalid, "snapshot '" + name + "': " + why};
  };
  if (file.size() < 28 || file.compare(0, 8, std::string_view(kSnapshotMagic, 8)) != 0)
    return invalid("not a snapshot file");
  uint64_t fingerprint;
  std::memcpy(&fingerprint, file.data() + 8, 8);
  if (fingerprint != layout.fingerprint)
    return {SnapshotError::foreignModel,
            "snapshot '" + name + "' was saved from another model or other weights (fingerprint " +
                fingerprintHex(fingerprint) + ", this model " +
                fingerprintHex(layout.fingerprint) + ")"};
  uint64_t checksum;
  std::memcpy(&checksum, file.data() + file.size() - 8, 8);
  if (checksum != hashBytes(file.data(), file.size() - 8, 0))
    return invalid("checksum mismatch (truncated or corrupted)");
  uint32_t headerSize;
  std::memcpy(&headerSize, file.data() + 16, 4);
  if (20 + uint64_t(headerSize) + 8 > file.size())
    return invalid("truncated header");
  auto parsed = io::parseJson(file.substr(20, headerSize), io::JsonLimits{}, "header");
  if (!parsed)
    return invalid(parsed.status().message());
  const json &header = *parsed;
  auto field = [&](const char *key, bool (json::*isType)() const noexcept) -> const json * {
    if (!header.is_object())
      return nullptr;
    auto it = header.find(key);
    return it != header.end() && ((*it).*isType)() ? &*it : nullptr;
  };
  if (!header.is_object())
    return invalid("the header is not a JSON object");
  const json *version = field("version", &json::is_number_integer);
  if (!version || version->get<int64_t>() != kSnapshotVersion)
    return invalid("unsupported snapshot version (this build reads version " +
                   std::to_string(kSnapshotVersion) + ")");
  const json *lengthField = field("length", &json::is_number_integer);
  const json *slotList = field("slots", &json::is_array);
  if (!lengthField || !slotList)
    return invalid("the header needs an integer 'length' and an array 'slots'");
  const json *lengths = header.contains("checkpoints") ? field("checkpoints", &json::is_array)
                                                       : &kEmptyArray;
  if (!lengths)
    return invalid("'checkpoints' must be an array of lengths");
  if (header.contains("meta")) {
    const json *meta = field("meta", &json::is_object);
    if (!meta)
      return invalid("'meta' must be an object");
    out->meta = *meta;
  }
  int64_t length = lengthField->is_number_unsigned() && lengthField->get<uint64_t>() > INT64_MAX
                       ? -1
                       : lengthField->get<int64_t>();
  if (length < 0 || length >= layout.capacity)
    return invalid("its " + lengthField->dump() + " tokens do not fit the context of " +
                   std::to_string(layout.capacity) + " tokens (raise --max-context)");
  if (slotList->size() != layout.slots.size())
    return invalid("state slot count differs from the model's");

  const char *p = file.data() + 20 + headerSize;
  const char *end = file.data() + file.size() - 8;
  auto take = [&](void *destination, size_t bytes) {
    if (size_t(end - p) < bytes)
      return false;
    if (bytes > 0)  // an empty vector's data() may be null, which memcpy must not see
      std::memcpy(destination, p, bytes);
    p += bytes;
    return true;
  };
  out->history.resize(size_t(length));
  if (!take(out->history.data(), out->history.size() * sizeof(int32_t)))
    return invalid("truncated token history");
  for (size_t i = 0; i < out->history.size(); ++i)
    if (out->history[i] < 0 || out->history[i] >= layout.vocab)
      return invalid("token " + std::to_string(i) + " of the history is outside the vocabulary");
  out->slotBytes.clear();
  for (size_t i = 0; i < layout.slots.size(); ++i) {
    const SnapshotLayout::Slot &slot = layout.slots[i];
    size_t bytes = slot.kv ? 2 * slot.heads * size_t(length) * slot.rowBytes
                           : slot.convBytes + slot.ssmBytes;
    if (size_t(end - p) < bytes)
      return invalid("truncated state of slot " + std::to_string(i));
    out->slotBytes.emplace_back(p, bytes);
    p += bytes;
  }
  out->checkpoints.clear();
  for (const json &checkpointLength : *lengths) {
    Checkpoint checkpoint;
    checkpoint.length = checkpointLength.is_number_integer() && !checkpointLength.is_number_unsigned()
                            ? checkpointLength.get<int64_t>()
                        : checkpointLength.is_number_unsigned() &&
                                checkpointLength.get<uint64_t>() <= uint64_t(length)
                            ? int64_t(checkpointLength.get<uint64_t>())
                            : -1;
    if (checkpoint.length < 0 || checkpoint.length > length ||
        (!out->checkpoints.empty() && checkpoint.length <= out->checkpoints.back().length) ||
        out->checkpoints.size() >= Conversation::kMaxCheckpoints)
      return invalid("malformed checkpoint list");
    for (const SnapshotLayout::Slot &slot : layout.slots) {
      checkpoint.conv.emplace_back(slot.kv ? 0 : slot.convBytes);
      checkpoint.ssm.emplace_back(slot.kv ? 0 : slot.ssmBytes);
      if (!take(checkpoint.conv.back().data(), checkpoint.conv.back().size()) ||
          !take(checkpoint.ssm.back().data(), checkpoint.ssm.back().size()))
        return invalid("truncated checkpoints");
    }
    out->checkpoints.push_back(std::move(checkpoint));
  }
  if (p != end)
    return invalid("unexpected bytes after the state");
  return {};
}

}  // namespace sl::server
