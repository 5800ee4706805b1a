// The spellings of the schema's launch-argument enums (RuntimeValue, StatePart) and their range
// checks. The names are the ones flatc generates from runtime/schema/artifact.fbs, so the
// compiler's slk IR, sl-artifact-dump and the runtime's errors spell every value alike.
#pragma once

#include "runtime/schema/artifact_generated.h"

#include <optional>
#include <string_view>

namespace sl::schema {

namespace detail {
template <typename E>
std::optional<E> enumNamed(const char *const *names, std::string_view name) {
  for (int i = 0; names[i]; ++i)
    if (*names[i] && name == names[i])
      return static_cast<E>(i);
  return std::nullopt;
}
}  // namespace detail

inline bool isValid(RuntimeValue value) { return value <= RuntimeValue::MAX; }
inline bool isValid(StatePart part) { return part <= StatePart::MAX; }
inline bool isValid(ArgKind kind) { return kind <= ArgKind::MAX; }
inline bool isValid(CollectiveOp op) { return op <= CollectiveOp::MAX; }

// The value spelled `name` ("n", "anchor_offsets", ...), if any.
inline std::optional<RuntimeValue> runtimeValueNamed(std::string_view name) {
  return detail::enumNamed<RuntimeValue>(EnumNamesRuntimeValue(), name);
}
inline std::optional<StatePart> statePartNamed(std::string_view name) {
  return detail::enumNamed<StatePart>(EnumNamesStatePart(), name);
}

// Run-time values that are host tables of a multi-step layer: Arg.index names the state slot.
inline bool isStateTable(RuntimeValue value) {
  return value == RuntimeValue::anchor_offsets || value == RuntimeValue::num_stripes ||
         value == RuntimeValue::span_reach;
}

// The kind of state slot a part belongs to.
inline StateKind stateKindOf(StatePart part) {
  return part == StatePart::k || part == StatePart::v ? StateKind::kv_cache
                                                      : StateKind::mamba_state;
}

}  // namespace sl::schema
