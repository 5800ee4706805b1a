// sl::io::parseNpy on arbitrary bytes. Invariants: an accepted array holds numel * element-size
// bytes, and writing it with writeNpy and reading it back gives the same array.
#include "FuzzSupport.h"

#include "runtime/io/Npy.h"

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  auto parsed = sl::io::parseNpy(bytes, "fuzz.npy");
  if (!parsed.ok()) {
    SL_FUZZ_CHECK(!parsed.status().message().empty(), "an error without a message");
    return 0;
  }
  const sl::io::NpyArray &array = parsed.value();
  SL_FUZZ_CHECK(array.numel() >= 0 &&
                    uint64_t(array.numel()) * sl::io::npyDTypeSize(array.dtype) == array.data.size(),
                "data size != numel * element size");
  static const std::string path = "/tmp/sl-npy-fuzzer-" + std::to_string(::getpid()) + ".npy";
  sl::Status written = sl::io::writeNpy(path, array);
  SL_FUZZ_CHECK(written.ok(), "writeNpy of an accepted array failed: " + written.message());
  auto reread = sl::io::readNpy(path);
  std::remove(path.c_str());
  SL_FUZZ_CHECK(reread.ok(), "re-reading a written array failed: " + reread.status().message());
  SL_FUZZ_CHECK(reread.value().dtype == array.dtype && reread.value().shape == array.shape &&
                    reread.value().data == array.data,
                "the written array reads back different");
  return 0;
}
