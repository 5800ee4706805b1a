// `slc import`'s config.json handling: arbitrary config.json text through
// sl::importer::importModel (read, parse, check the keys, build and verify the graph).
#include "FuzzSupport.h"

#include "models/Importer.h"

#include "mlir/IR/MLIRContext.h"

#include <cstdio>
#include <memory>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path =
      "/tmp/sl-importer-fuzzer-" + std::to_string(::getpid()) + "-config.json";
  // One context for many inputs (creating one is slow); renewed now and then so that uniqued
  // types and attributes do not pile up.
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % 2000 == 0) {
    context = std::make_unique<mlir::MLIRContext>();
    context->disableMultithreading();
  }
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    sl::fuzz::fail("cannot write the temporary config.json", path);
  if (size)
    std::fwrite(data, 1, size, f);
  std::fclose(f);
  sl::importer::ImportOptions options;
  options.modelDir = path;
  std::string error;
  auto module = sl::importer::importModel(*context, options, error);
  if (!module)
    SL_FUZZ_CHECK(!error.empty(), "an import failure without a message");
  return 0;
}
