// Loading an artifact (.slpkg): read, verify the flatbuffer, check identifier and schema version.
#pragma once

#include "runtime/schema/artifact_generated.h"
#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::runtime {

// Function `name` of `plan`, or null.
const sl::schema::Function *findFunction(const sl::schema::Plan &plan, const std::string &name);

class Artifact {
public:
  // Every failure names the file and the problem (truncated, not an artifact, other version).
  static StatusOr<Artifact> load(const std::string &path);
  // The same checks on the bytes of an artifact; `path` only names it in messages.
  static StatusOr<Artifact> fromBytes(std::vector<uint8_t> bytes, const std::string &path);

  const sl::schema::Artifact &root() const { return *sl::schema::GetArtifact(bytes_.data()); }
  const std::string &path() const { return path_; }
  // The function called `name` of the first plan, or null: its interface (phase, max_tokens,
  // inputs, states, outputs), which every plan shares (checked on load). An executor runs its
  // own plan's function of that name (Executor::own).
  const sl::schema::Function *function(const std::string &name) const;
  // The plan for a GPU of compute capability major.minor: the artifact's plan for
  // sm_<major><minor>a, else for sm_<major><minor>; an error naming the GPU's target and the
  // artifact's targets when it has neither.
  StatusOr<const sl::schema::Plan *> planFor(int major, int minor) const;
  // The artifact's targets, comma-separated ("sm_90a, sm_100a").
  std::string targets() const;
  // Ranks of every target (slc compile --tensor-parallel; 1 without it).
  int32_t worldSize() const;
  // The plans of every rank of `rankZero`'s target, in rank order.
  std::vector<const sl::schema::Plan *> ranksOf(const sl::schema::Plan &rankZero) const;

private:
  std::string path_;
  std::vector<uint8_t> bytes_;
};

}  // namespace sl::runtime
