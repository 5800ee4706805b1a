#include "runtime/cpu/CpuExecutor.h"

#include "runtime/core/Collectives.h"
#include "runtime/core/LaunchArgs.h"
#include "runtime/core/RandomWeights.h"
#include "runtime/cpu/CpuKernel.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

namespace sl::runtime {

namespace {

struct AlignedFree {
  void operator()(uint8_t *p) const { std::free(p); }
};

}  // namespace

Status CpuExecutor::claim(Session &session) {
  if (Status status = checkOwner(session); !status)
    return status;
  // The state is the session's host buffers: the backend state only records the owner.
  if (!session.backendState())
    session.setBackendState(std::make_unique<BackendState>(id()));
  return Status::success();
}

StatusOr<std::vector<Tensor>> CpuExecutor::call(const sl::schema::Function &requested,
                                                Session &session,
                                                const std::vector<const void *> &inputs,
                                                int64_t tokens, OutputRows rows) {
  auto ownFunction = own(requested);
  if (!ownFunction)
    return ownFunction.status();
  const sl::schema::Function &function = **ownFunction;
  const std::string name = function.name()->str();
  auto fail = [&](const std::string &message) {
    return Status::error("slrun: " + name + ": " + message);
  };
  if (Status status = checkCall(function, session, inputs.size(), tokens); !status)
    return status;
  if (!session.hasHostState())
    return fail("the CPU backend needs a session with host state");
  // A rank's session is claimed by its group.
  if (Status status = link_ ? Status::success() : claim(session); !status)
    return fail(status.message());
  const int64_t start = session.length();
  const bool stateful = function.states()->size() > 0;

  std::unique_ptr<uint8_t, AlignedFree> arena(static_cast<uint8_t *>(
      std::aligned_alloc(256, std::max<int64_t>(256, (function.arena_bytes() + 255) / 256 * 256))));
  if (!arena)
    return fail("cannot allocate the " + std::to_string(function.arena_bytes()) +
                "-byte arena");
  int32_t errorFlag = 0;
  std::map<int32_t, std::vector<int32_t>> spanReachTables;  // per multi-step state slot
  auto spanReach = [&](int32_t slot) -> int32_t * {
    std::vector<int32_t> &table = spanReachTables[slot];
    if (table.empty())
      table = spanReachTable(*artifact_.root().states()->Get(slot)->msa(), start, tokens);
    return table.data();
  };

  // Host addresses of everything a launch argument can point to.
  struct HostMemory final : LaunchArgMemory {
    uint64_t arena() override { return address(arenaBase); }
    uint64_t weight(uint32_t binding) override { return address(weights->at(binding).data()); }
    uint64_t input(uint32_t index) override { return address(inputs->at(index)); }
    uint64_t statePart(uint32_t slot, sl::schema::StatePart part) override {
      StateBuffers &state = session->state(slot);
      switch (part) {
      case sl::schema::StatePart::k:
        return address(state.k.data());
      case sl::schema::StatePart::v:
        return address(state.v.data());
      case sl::schema::StatePart::conv:
        return address(state.conv.data());
      case sl::schema::StatePart::ssm:
        return address(state.ssm.data());
      }
      return 0;
    }
    uint64_t errorFlag() override { return address(errorFlagPointer); }
    uint64_t anchorOffsets(uint32_t slot) override {
      return address(session->state(slot).anchorOffsets.data());
    }
    uint64_t spanReach(uint32_t slot) override { return address(spanReachOf(slot)); }
    static uint64_t address(const void *p) { return reinterpret_cast<uintptr_t>(p); }

    uint8_t *arenaBase;
    const std::vector<std::vector<uint8_t>> *weights;
    const std::vector<const void *> *inputs;
    Session *session;
    int32_t *errorFlagPointer;
    std::function<int32_t *(int32_t)> spanReachOf;
  } memory;
  memory.arenaBase = arena.get();
  memory.weights = &weights_;
  memory.inputs = &inputs;
  memory.session = &session;
  memory.errorFlagPointer = &errorFlag;
  memory.spanReachOf = spanReach;

  const auto &kernels = *artifact_.root().kernels();
  std::vector<std::string> templateArgs;
  std::vector<cpu::KernelArg> args;
  const int64_t keptRows = outputRowCount(rows, tokens);
  const std::vector<Capture> *captures = capturesOf(name);
  CapturedCall captured{name, tokens, {}};
  if (captures)
    captured.buffers.resize(captures->size());
  for (size_t index = 0; index < function.launches()->size(); ++index) {
    const auto *launch = function.launches()->Get(index);
    const auto *kernel = kernels.Get(launch->kernel());
    // An output-rows launch runs for the rows the caller reads back (none: skipped).
    const int64_t n = launch->output_rows() ? keptRows : tokens;
    const int64_t skippedRows = launch->output_rows() ? tokens - keptRows : 0;
    if (n == 0)
      continue;
    if (const auto *collective = launch->collective()) {
      if (!link_)
        return fail("the collective at " + launch->location()->str() +
                    " needs the ranks of a tensor-parallel plan");
      const auto *buffer = function.buffers()->Get(collective->buffer());
      const int64_t bytes = tokens * collective->bytes_per_token();
      Status status = link_->collectives->allReduceSum(
          link_->rank, arena.get() + buffer->offset() + collective->byte_offset(),
          size_t(bytes / dtypeBytes(collective->dtype())), collective->dtype());
      if (!status)
        return fail("all-reduce at " + launch->location()->str() + ": " + status.message());
      continue;
    }
    cpu::KernelFn fn = cpu::lookupKernel(kernel->template_name()->str());
    if (!fn)
      return fail("the CPU backend has no kernel '" + kernel->template_name()->str() + "'");
    templateArgs.clear();
    for (const auto *arg : *kernel->template_args())
      templateArgs.push_back(arg->str());
    args.clear();
    const LaunchCall call{function, session, start, tokens, n, skippedRows};
    for (const auto *arg : *launch->args()) {
      auto resolved = resolveArg(*arg, call, memory);
      if (!resolved)
        return fail("kernel " + kernel->name()->str() + " (" + launch->location()->str() +
                    "): " + resolved.status().message());
      cpu::KernelArg value;
      switch (resolved->type) {
      case ArgValue::Type::pointer:
        value.pointer = reinterpret_cast<void *>(static_cast<uintptr_t>(resolved->address));
        break;
      case ArgValue::Type::i32:
      case ArgValue::Type::i64:
        value.integer = resolved->integer;
        break;
      case ArgValue::Type::f32:
        value.real = resolved->real;
        break;
      }
      args.push_back(value);
    }
    Status status = fn(cpu::KernelCall{templateArgs, args});
    if (!status)
      return fail("kernel " + kernel->name()->str() + " (" + launch->location()->str() +
                  "): " + status.message());
    if (errorFlag)
      return fail("token id at position " + std::to_string(start + errorFlag - 1) +
                  " is outside the vocabulary");
    for (size_t c = 0; captures && c < captures->size(); ++c) {
      const Capture &capture = (*captures)[c];
      if (capture.launch != index)
        continue;
      auto offset = captureOffset(function, capture, n, skippedRows);
      if (!offset)
        return fail(offset.status().message());
      const uint8_t *bytes = arena.get() + *offset;
      captured.buffers[c].assign(bytes, bytes + n * capture.rowBytes);
    }
  }
  if (captures)
    logCaptured(std::move(captured));
  if (stateful && !link_)
    session.advance(tokens);

  std::vector<Tensor> outputs;
  for (size_t i = 0; i < function.outputs()->size(); ++i) {
    size_t offset = 0;
    Tensor tensor = outputTensor(function, i, tokens, rows, &offset);
    const auto *buffer = function.buffers()->Get(function.output_buffers()->Get(i));
    if (!tensor.bytes.empty())  // no rows read back: data() may be null, which memcpy forbids
      std::memcpy(tensor.bytes.data(), arena.get() + buffer->offset() + offset,
                  tensor.bytes.size());
    outputs.push_back(std::move(tensor));
  }
  return outputs;
}

Status CpuExecutor::synthesizeState(Session &session, int64_t length, uint64_t seed) {
  if (!session.hasHostState())
    return Status::error("the CPU backend needs a session with host state");
  if (Status status = claim(session); !status)
    return status;
  return synthesizeHostState(artifact_, session, length, seed);
}

Status synthesizeHostState(const Artifact &artifact, Session &session, int64_t length,
                           uint64_t seed) {
  if (length < 0 || length > session.capacity())
    return Status::error("cannot synthesise " + std::to_string(length) +
                         " tokens of state in a session of capacity " +
                         std::to_string(session.capacity()));
  const auto &slots = *artifact.root().states();
  uint32_t stream = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    StateBuffers &state = session.state(i);
    auto fill = [&](std::vector<uint8_t> &bytes, sl::schema::DType dtype, float scale) {
      std::vector<uint8_t> values = synthesizedValues(bytes.size() / dtypeBytes(dtype), dtype,
                                                      seed, stream++, scale);
      bytes.swap(values);
    };
    fill(state.k, slots.Get(i)->dtype(), 1.0f);
    fill(state.v, slots.Get(i)->dtype(), 1.0f);
    fill(state.conv, slots.Get(i)->dtype(), 1.0f);
    fill(state.ssm, slots.Get(i)->ssm_dtype(), 0.1f);
  }
  session.restoreLength(length);
  return Status::success();
}

}  // namespace sl::runtime
