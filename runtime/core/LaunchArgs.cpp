#include "runtime/core/LaunchArgs.h"

#include "runtime/schema/ArgNames.h"

#include <string>

namespace sl::runtime {

using sl::schema::ArgKind;
using sl::schema::RuntimeValue;

namespace {

ArgValue pointer(uint64_t address) {
  ArgValue value;
  value.type = ArgValue::Type::pointer;
  value.address = address;
  return value;
}

ArgValue integer(ArgValue::Type type, int64_t v) {
  ArgValue value;
  value.type = type;
  value.integer = v;
  return value;
}

StatusOr<ArgValue> resolveRuntime(const sl::schema::Arg &arg, const LaunchCall &call,
                                  LaunchArgMemory &memory) {
  const uint32_t slot = static_cast<uint32_t>(arg.index());
  switch (arg.value()) {
  case RuntimeValue::n:
    return integer(ArgValue::Type::i32, call.rows);
  case RuntimeValue::start:
    return integer(ArgValue::Type::i32, call.start);
  case RuntimeValue::cache_len:
    return integer(ArgValue::Type::i32, call.start + call.tokens);
  case RuntimeValue::capacity:
    return integer(ArgValue::Type::i32, call.session.capacity());
  case RuntimeValue::null:
    return pointer(0);
  case RuntimeValue::error_flag:
    return pointer(memory.errorFlag());
  case RuntimeValue::anchor_offsets:
    return pointer(memory.anchorOffsets(slot));
  case RuntimeValue::num_stripes:
    return integer(ArgValue::Type::i32,
                   static_cast<int64_t>(call.session.state(slot).anchorOffsets.size()));
  case RuntimeValue::span_reach:
    return pointer(memory.spanReach(slot));
  }
  return Status::error("unknown run-time value " + std::to_string(int(arg.value())) +
                       " (an artifact of another slc?)");
}

}  // namespace

StatusOr<ArgValue> resolveArg(const sl::schema::Arg &arg, const LaunchCall &call,
                              LaunchArgMemory &memory) {
  // Token-row pointers of an output-rows launch start skippedRows rows further on.
  const int64_t rowOffset = arg.byte_offset() + call.skippedRows * arg.row_bytes();
  switch (arg.kind()) {
  case ArgKind::buffer:
    return pointer(memory.arena() + call.function.buffers()->Get(arg.index())->offset() +
                   rowOffset);
  case ArgKind::weight:
    return pointer(memory.weight(arg.index()));
  case ArgKind::input:
    return pointer(memory.input(arg.index()) + rowOffset);
  case ArgKind::state_part:
    if (!sl::schema::isValid(arg.part()))
      break;
    return pointer(memory.statePart(arg.index(), arg.part()));
  case ArgKind::runtime:
    return resolveRuntime(arg, call, memory);
  case ArgKind::const_i32:
    return integer(ArgValue::Type::i32, arg.int_value());
  case ArgKind::const_i64:
    return integer(ArgValue::Type::i64, arg.int_value());
  case ArgKind::const_f32: {
    ArgValue value;
    value.type = ArgValue::Type::f32;
    value.real = arg.float_value();
    return value;
  }
  }
  return Status::error("unknown argument kind " + std::to_string(int(arg.kind())) + " or part " +
                       std::to_string(int(arg.part())) + " (an artifact of another slc?)");
}

}  // namespace sl::runtime
