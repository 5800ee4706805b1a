// The one place that turns a launch argument of the artifact (schema::Arg) into its value for a
// call. Both backends call resolveArg for every argument of every launch; they supply only what
// differs between them (where the arena, weights, inputs, state parts and host tables are, in
// host or device memory) through LaunchArgMemory.
#pragma once

#include "runtime/core/Session.h"
#include "runtime/schema/artifact_generated.h"
#include "runtime/support/Status.h"

#include <cstdint>

namespace sl::runtime {

// One resolved argument: a pointer (a host or device address; 0 is null) or a scalar.
struct ArgValue {
  enum class Type : uint8_t { pointer, i32, i64, f32 };
  Type type = Type::pointer;
  uint64_t address = 0;  // pointer
  int64_t integer = 0;   // i32 / i64 (an i32 keeps its 64-bit value; a backend that passes four
                         // bytes takes the low ones)
  float real = 0.0f;     // f32
};

// The backend's memory: addresses in the address space the kernels run in.
class LaunchArgMemory {
public:
  virtual ~LaunchArgMemory() = default;
  virtual uint64_t arena() = 0;                            // base of the function's arena
  virtual uint64_t weight(uint32_t binding) = 0;
  virtual uint64_t input(uint32_t index) = 0;              // function input `index`
  virtual uint64_t statePart(uint32_t slot, sl::schema::StatePart part) = 0;
  virtual uint64_t errorFlag() = 0;                        // the call's i32 error flag
  virtual uint64_t anchorOffsets(uint32_t slot) = 0;       // i64 table of a multi-step slot
  virtual uint64_t spanReach(uint32_t slot) = 0;           // i32 per-call table of that slot
};

// The call and launch an argument belongs to.
struct LaunchCall {
  const sl::schema::Function &function;
  const Session &session;
  int64_t start = 0;        // the session's length before the call
  int64_t tokens = 0;       // tokens of the call
  int64_t rows = 0;         // rows this launch runs for (`n`; tokens unless output-rows)
  int64_t skippedRows = 0;  // an output-rows launch: token rows skipped at the front
};

// The value of `arg` (an argument of a launch of `call.function`; the artifact was checked on
// load, so indices are in range). An error names an argument this runtime cannot resolve.
StatusOr<ArgValue> resolveArg(const sl::schema::Arg &arg, const LaunchCall &call,
                              LaunchArgMemory &memory);

}  // namespace sl::runtime
