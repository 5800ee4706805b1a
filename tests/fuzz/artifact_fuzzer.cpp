// sl::runtime::Artifact::fromBytes on arbitrary bytes: the flatbuffer verification, then the
// runtime's own checks. An accepted artifact is then walked the way the runtime reads it
// (Model, executors): every field it dereferences must be present and every index in range.
#include "FuzzSupport.h"

#include "runtime/core/Artifact.h"

#include <vector>

namespace {

volatile size_t sink;

void walk(const sl::runtime::Artifact &artifact) {
  const sl::schema::Artifact &root = artifact.root();
  sink = sink + root.model()->size() + root.weights()->size() + root.states()->size() +
         root.kernels()->size();
  for (const auto *binding : *root.weights())
    sink = sink + binding->name()->size() + binding->shape()->size();
  for (const auto *kernel : *root.kernels())
    sink = sink + kernel->name()->size() + kernel->source()->size();
  for (const auto *plan : *root.plans())
    for (const auto *function : *plan->functions()) {
      sink = sink + function->name()->size() + plan->target()->size();
      SL_FUZZ_CHECK(artifact.function(function->name()->str()) != nullptr, "function not found");
      const auto &buffers = *function->buffers();
      for (const auto *tensor : *function->inputs())
        sink = sink + tensor->shape()->size();
      for (const auto *tensor : *function->outputs())
        sink = sink + tensor->shape()->size();
      for (uint32_t state : *function->states())
        SL_FUZZ_CHECK(state < root.states()->size(), "state index out of range");
      SL_FUZZ_CHECK(function->output_buffers()->size() == function->outputs()->size(),
                    "an output without its buffer");
      for (uint32_t buffer : *function->output_buffers())
        SL_FUZZ_CHECK(buffer < buffers.size(), "output buffer index out of range");
      for (const auto *buffer : buffers)
        SL_FUZZ_CHECK(buffer->offset() >= 0 && buffer->bytes() >= 0 &&
                          buffer->offset() <= function->arena_bytes() - buffer->bytes(),
                      "buffer outside the arena");
      for (const auto *launch : *function->launches()) {
        SL_FUZZ_CHECK(launch->kernel() < root.kernels()->size(), "kernel index out of range");
        SL_FUZZ_CHECK(launch->grid()->size() == 3, "grid is not x, y, z");
        for (const auto *extent : *launch->grid())
          SL_FUZZ_CHECK(extent->div() > 0, "grid extent divides by zero or less");
        for (const auto *arg : *launch->args()) {
          switch (arg->kind()) {
          case sl::schema::ArgKind::buffer:
            SL_FUZZ_CHECK(arg->index() >= 0 && uint32_t(arg->index()) < buffers.size(),
                          "buffer arg out of range");
            break;
          case sl::schema::ArgKind::weight:
            SL_FUZZ_CHECK(arg->index() >= 0 && uint32_t(arg->index()) < root.weights()->size(),
                          "weight arg out of range");
            break;
          case sl::schema::ArgKind::input:
            SL_FUZZ_CHECK(arg->index() >= 0 && uint32_t(arg->index()) < function->inputs()->size(),
                          "input arg out of range");
            break;
          case sl::schema::ArgKind::state_part:
            SL_FUZZ_CHECK(arg->index() >= 0 && uint32_t(arg->index()) < root.states()->size(),
                          "state arg out of range");
            SL_FUZZ_CHECK(arg->part() <= sl::schema::StatePart::MAX, "state part out of range");
            break;
          case sl::schema::ArgKind::runtime:
            SL_FUZZ_CHECK(arg->value() <= sl::schema::RuntimeValue::MAX,
                          "run-time value out of range");
            break;
          default:
            break;
          }
        }
      }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto artifact = sl::runtime::Artifact::fromBytes(std::vector<uint8_t>(data, data + size),
                                                   "fuzz.slpkg");
  if (!artifact.ok()) {
    SL_FUZZ_CHECK(!artifact.status().message().empty(), "an error without a message");
    return 0;
  }
  walk(artifact.value());
  return 0;
}
