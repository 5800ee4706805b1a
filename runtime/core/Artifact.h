// Loading an artifact (.slpkg): read, verify the flatbuffer, check identifier and schema version.
#pragma once

#include "runtime/schema/artifact_generated.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::runtime {

class Artifact {
public:
  // Every failure names the file and the problem (truncated, not an artifact, other version).
  static StatusOr<Artifact> load(const std::string &path);
  // The same checks on the bytes of an artifact; `path` only names it in messages.
  static StatusOr<Artifact> fromBytes(std::vector<uint8_t> bytes, const std::string &path);

  const sl::schema::Artifact &root() const { return *sl::schema::GetArtifact(bytes_.data()); }
  const std::string &path() const { return path_; }
  // The function called `name`, or null.
  const sl::schema::Function *function(const std::string &name) const;

private:
  std::string path_;
  std::vector<uint8_t> bytes_;
};

}  // namespace sl::runtime
