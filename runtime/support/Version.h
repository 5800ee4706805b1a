// The project's version, written into artifacts and kernel-cache keys.
#pragma once

namespace sl {
constexpr const char *kVersion = "0.1.0";
}  // namespace sl
