// Version of runtime/schema/artifact.fbs; bump on every incompatible change.
#pragma once

namespace sl::schema {
constexpr unsigned kSchemaVersion = 3;
}  // namespace sl::schema
