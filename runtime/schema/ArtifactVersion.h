// Version of runtime/schema/artifact.fbs; bump on every incompatible change.
#pragma once

namespace sl::schema {
constexpr unsigned kSchemaVersion = 4;
}  // namespace sl::schema
