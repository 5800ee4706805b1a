#include "runtime/core/CpuExecutor.h"

#include "runtime/core/RandomWeights.h"
#include "runtime/cpu/CpuKernel.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

namespace sl::runtime {

using sl::schema::ArgKind;

namespace {

struct AlignedFree {
  void operator()(uint8_t *p) const { std::free(p); }
};

}  // namespace

StatusOr<std::vector<Tensor>> CpuExecutor::call(const sl::schema::Function &function,
                                                Session &session,
                                                const std::vector<const void *> &inputs,
                                                int64_t tokens, OutputRows rows) {
  const std::string name = function.name()->str();
  auto fail = [&](const std::string &message) {
    return Status::error("slrun: " + name + ": " + message);
  };
  if (Status status = checkCall(function, session, inputs.size(), tokens); !status)
    return status;
  if (!session.hasHostState())
    return fail("the CPU backend needs a session with host state");
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
    cpu::KernelFn fn = cpu::lookupKernel(kernel->template_name()->str());
    if (!fn)
      return fail("the CPU backend has no kernel '" + kernel->template_name()->str() + "'");
    templateArgs.clear();
    for (const auto *arg : *kernel->template_args())
      templateArgs.push_back(arg->str());
    args.clear();
    for (const auto *arg : *launch->args()) {
      cpu::KernelArg value;
      switch (arg->kind()) {
      case ArgKind::buffer: {
        const auto *buffer = function.buffers()->Get(arg->index());
        value.pointer = arena.get() + buffer->offset() + arg->byte_offset() +
                        skippedRows * arg->row_bytes();
        break;
      }
      case ArgKind::weight:
        value.pointer = const_cast<uint8_t *>(weights_.at(arg->index()).data());
        break;
      case ArgKind::input:
        value.pointer = const_cast<uint8_t *>(static_cast<const uint8_t *>(inputs.at(arg->index()))) +
                        arg->byte_offset() + skippedRows * arg->row_bytes();
        break;
      case ArgKind::state_part: {
        StateBuffers &state = session.state(arg->index());
        std::string part = arg->part()->str();
        std::vector<uint8_t> *bytes = part == "k"      ? &state.k
                                      : part == "v"    ? &state.v
                                      : part == "conv" ? &state.conv
                                                       : &state.ssm;
        value.pointer = bytes->data();
        break;
      }
      case ArgKind::runtime: {
        std::string what = arg->name()->str();
        if (what == "n")
          value.integer = n;
        else if (what == "start")
          value.integer = start;
        else if (what == "cache_len")
          value.integer = start + tokens;
        else if (what == "capacity")
          value.integer = session.capacity();
        else if (what == "null")
          value.pointer = nullptr;
        else if (what == "error_flag")
          value.pointer = &errorFlag;
        else if (what == "anchor_offsets")
          value.pointer = session.state(arg->index()).anchorOffsets.data();
        else if (what == "num_stripes")
          value.integer = static_cast<int64_t>(session.state(arg->index()).anchorOffsets.size());
        else if (what == "span_reach")
          value.pointer = spanReach(arg->index());
        else
          return fail("unknown run-time argument '" + what + "' (artifact from another slc?)");
        break;
      }
      case ArgKind::const_i32:
      case ArgKind::const_i64:
        value.integer = arg->int_value();
        break;
      case ArgKind::const_f32:
        value.real = arg->float_value();
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
  if (stateful)
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
  if (length < 0 || length > session.capacity())
    return Status::error("cannot synthesise " + std::to_string(length) +
                         " tokens of state in a session of capacity " +
                         std::to_string(session.capacity()));
  const auto &slots = *artifact_.root().states();
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
