// The snapshot decoder on arbitrary bytes, against the layout of a small hybrid model (one KV
// slot, one Mamba slot). The checksum would stop almost every mutation at once, so the target
// recomputes it over the input before decoding: the fuzzer then reaches the header and layout
// checks. A decoded snapshot must match the layout exactly.
#include "FuzzSupport.h"

#include "runtime/server/SnapshotFormat.h"

#include <cstring>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl::server::SnapshotLayout layout;
  layout.fingerprint = 0x1122334455667788ULL;
  layout.capacity = 64;
  layout.vocab = 512;
  sl::server::SnapshotLayout::Slot kv, mamba;
  kv.kv = true;
  kv.heads = 2;
  kv.rowBytes = 8;
  mamba.convBytes = 24;
  mamba.ssmBytes = 40;
  layout.slots = {kv, mamba};

  std::string file(reinterpret_cast<const char *>(data), size);
  if (file.size() >= 28) {
    // The right magic and fingerprint half of the time, so both paths are explored.
    if (data[0] % 2 == 0) {
      std::memcpy(file.data(), sl::server::kSnapshotMagic, 8);
      std::memcpy(file.data() + 8, &layout.fingerprint, 8);
    }
    uint64_t checksum = sl::server::hashBytes(file.data(), file.size() - 8, 0);
    std::memcpy(file.data() + file.size() - 8, &checksum, 8);
  }
  sl::server::SnapshotContents contents;
  sl::server::SnapshotStatus status = sl::server::decodeSnapshot(file, layout, "fuzz", &contents);
  if (!status.ok()) {
    SL_FUZZ_CHECK(!status.message.empty(), "an error without a message");
    return 0;
  }
  int64_t length = int64_t(contents.history.size());
  SL_FUZZ_CHECK(length < layout.capacity, std::to_string(length));
  for (int32_t id : contents.history)
    SL_FUZZ_CHECK(id >= 0 && id < layout.vocab, std::to_string(id));
  SL_FUZZ_CHECK(contents.slotBytes.size() == 2, "slot count");
  SL_FUZZ_CHECK(contents.slotBytes[0].size() == size_t(2 * 2 * length * 8), "KV bytes");
  SL_FUZZ_CHECK(contents.slotBytes[1].size() == 64, "Mamba bytes");
  int64_t previous = -1;
  for (const auto &checkpoint : contents.checkpoints) {
    SL_FUZZ_CHECK(checkpoint.length > previous && checkpoint.length <= length, "checkpoint order");
    previous = checkpoint.length;
  }
  return 0;
}
