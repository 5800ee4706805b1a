#include "runtime/core/Artifact.h"

#include "runtime/schema/ArtifactVersion.h"

#include <fstream>
#include <iterator>

namespace sl::runtime {

StatusOr<Artifact> Artifact::load(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("artifact " + path + ": cannot be read");
  Artifact artifact;
  artifact.path_ = path;
  artifact.bytes_.assign(std::istreambuf_iterator<char>(in), {});
  const auto &bytes = artifact.bytes_;
  if (bytes.size() < 8 || !sl::schema::ArtifactBufferHasIdentifier(bytes.data()))
    return Status::error("artifact " + path +
                         ": not an slc artifact (no 'SLPK' file identifier; " +
                         std::to_string(bytes.size()) + " bytes)");
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), /*max_depth=*/64,
                                 /*max_tables=*/100000000);
  if (!sl::schema::VerifyArtifactBuffer(verifier))
    return Status::error("artifact " + path +
                         ": corrupt or truncated (flatbuffer verification failed)");
  uint32_t version = artifact.root().schema_version();
  if (version != sl::schema::kSchemaVersion)
    return Status::error("artifact " + path + ": schema version " + std::to_string(version) +
                         ", but this slrun reads version " +
                         std::to_string(sl::schema::kSchemaVersion) +
                         "; recompile the model with the matching slc");
  return artifact;
}

const sl::schema::Function *Artifact::function(const std::string &name) const {
  for (const auto *function : *root().functions())
    if (function->name()->str() == name)
      return function;
  return nullptr;
}

}  // namespace sl::runtime
