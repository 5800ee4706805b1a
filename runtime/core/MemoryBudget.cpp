#include "runtime/core/MemoryBudget.h"

#include "runtime/core/Session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <vector>

namespace sl::runtime {

std::optional<uint64_t> addBytes(uint64_t a, uint64_t b) {
  uint64_t sum;
  if (__builtin_add_overflow(a, b, &sum))
    return std::nullopt;
  return sum;
}

std::optional<uint64_t> mulBytes(uint64_t a, uint64_t b) {
  uint64_t product;
  if (__builtin_mul_overflow(a, b, &product))
    return std::nullopt;
  return product;
}

namespace {

// The product of `factors` (each >= 0), or nullopt on a negative factor or overflow.
std::optional<uint64_t> product(std::initializer_list<int64_t> factors) {
  uint64_t result = 1;
  for (int64_t factor : factors) {
    if (factor < 0)
      return std::nullopt;
    auto next = mulBytes(result, uint64_t(factor));
    if (!next)
      return std::nullopt;
    result = *next;
  }
  return result;
}

// Entries of a multi-step layer's anchor-offset table for `capacity` tokens (Session::reset):
// offsets floor((sw_index + 1 + i)^(1 / search_power)) - 1 for i = 0, 1, ..., up to the first
// one above the capacity, which is reached once sw_index + 1 + i >= (capacity + 2)^search_power.
uint64_t stripeCount(const sl::schema::MultiStepConfig &msa, int64_t capacity) {
  double last = std::ceil(std::pow(double(capacity) + 2.0, msa.search_power()));
  double first = double(msa.sw_index()) + 1.0;
  return uint64_t(std::max(0.0, last - first)) + 2;  // one past the capacity, one for rounding
}

std::string slotName(const sl::schema::StateSlot &slot, size_t index) {
  return "state slot " + std::to_string(index) +
         (slot.location() ? " (" + slot.location()->str() + ")" : std::string());
}

// The first number of a file ("max" and unreadable files give nullopt).
std::optional<uint64_t> readNumber(const std::string &path) {
  std::ifstream in(path);
  unsigned long long value = 0;
  if (!(in >> value))
    return std::nullopt;
  return uint64_t(value);
}

// A field of a cgroup's memory.stat ("inactive_file 123"), 0 when absent.
uint64_t statField(const std::string &path, const std::string &field) {
  std::ifstream in(path);
  std::string name;
  unsigned long long value = 0;
  while (in >> name >> value)
    if (name == field)
      return uint64_t(value);
  return 0;
}

// What the memory cgroup of this process still allows, when it sets a limit. Its usage counts
// the page cache; the inactive part of it is reclaimed before the limit bites, so it is left out
// (as `docker stats` does).
std::optional<uint64_t> cgroupHeadroom() {
  std::vector<std::string> directories;
  std::ifstream membership("/proc/self/cgroup");
  for (std::string line; std::getline(membership, line);) {
    // cgroup v2: "0::/path"; v1: "N:memory:/path" (or "N:...,memory,...:/path").
    size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos)
      continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controllers.empty())
      directories.push_back("/sys/fs/cgroup" + path);
    else if (("," + controllers + ",").find(",memory,") != std::string::npos)
      directories.push_back("/sys/fs/cgroup/memory" + path);
  }
  // Inside a cgroup namespace the process's own cgroup is the mount's root.
  directories.push_back("/sys/fs/cgroup");
  directories.push_back("/sys/fs/cgroup/memory");
  for (const std::string &directory : directories) {
    auto limit = readNumber(directory + "/memory.max");
    auto usage = readNumber(directory + "/memory.current");
    std::string inactiveFile = "inactive_file";
    if (!limit) {
      limit = readNumber(directory + "/memory.limit_in_bytes");
      usage = readNumber(directory + "/memory.usage_in_bytes");
      inactiveFile = "total_inactive_file";
    }
    // cgroup v1 writes "no limit" as a huge number.
    if (!limit || !usage || *limit >= (uint64_t(1) << 62))
      continue;
    const uint64_t reclaimable = statField(directory + "/memory.stat", inactiveFile);
    const uint64_t used = *usage > reclaimable ? *usage - reclaimable : 0;
    return *limit > used ? *limit - used : 0;
  }
  return std::nullopt;
}

}  // namespace

StatusOr<uint64_t> weightBytes(const Artifact &artifact) {
  uint64_t total = 0;
  for (const auto *binding : *artifact.root().weights()) {
    std::optional<uint64_t> bytes = uint64_t(dtypeBytes(binding->dtype()));
    for (int64_t dim : *binding->shape())
      bytes = dim < 0 || !bytes ? std::nullopt : mulBytes(*bytes, uint64_t(dim));
    std::optional<uint64_t> sum = bytes ? addBytes(total, *bytes) : std::nullopt;
    if (!sum)
      return Status::error("artifact " + artifact.path() + ": weight binding " +
                           binding->name()->str() +
                           " has a negative dimension or more bytes than 64 bits count");
    total = *sum;
  }
  return total;
}

StatusOr<SessionBytes> sessionBytes(const Artifact &artifact, int64_t capacity,
                                    const sl::schema::Plan *rank) {
  if (capacity < 1 || capacity > kMaxSessionTokens)
    return Status::error("a session holds 1 to " + std::to_string(kMaxSessionTokens) +
                         " tokens (the kernels' positions are 32-bit), got " +
                         std::to_string(capacity));
  SessionBytes bytes;
  const auto &slots = *artifact.root().states();
  std::vector<bool> counted(slots.size(), rank == nullptr);
  if (rank)
    for (const auto *function : *rank->functions())
      for (uint32_t slot : *function->states())
        counted.at(slot) = true;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!counted[i])
      continue;
    const auto *slot = slots.Get(i);
    auto overflow = [&] {
      return Status::error("artifact " + artifact.path() + ": " + slotName(*slot, i) +
                           ": a negative size, or more bytes than 64 bits count for " +
                           std::to_string(capacity) + " tokens");
    };
    std::optional<uint64_t> sum;
    if (slot->kind() == sl::schema::StateKind::kv_cache) {
      auto part = product(
          {2, slot->kv_heads(), capacity, slot->head_dim(), dtypeBytes(slot->dtype())});
      if (!part || !(sum = addBytes(bytes.kvCache, *part)))
        return overflow();
      bytes.kvCache = *sum;
      if (const auto *msa = slot->msa()) {
        if (!(msa->search_power() > 0.0 && msa->search_power() < 1.0) || msa->sw_index() < 0)
          return Status::error("artifact " + artifact.path() + ": " + slotName(*slot, i) +
                               ": multi-step search power must be in (0, 1) and sw_index >= 0");
        auto table = mulBytes(stripeCount(*msa, capacity), sizeof(int64_t));
        if (!table || !(sum = addBytes(bytes.stripeTables, *table)))
          return overflow();
        bytes.stripeTables = *sum;
      }
    } else {
      auto inner = product({slot->heads(), slot->head_dim()});
      auto groupStates = product({2, slot->groups(), slot->state_size()});
      auto channels = inner && groupStates ? addBytes(*inner, *groupStates) : std::nullopt;
      auto conv = channels && slot->conv_kernel() >= 1
                      ? mulBytes(*channels, uint64_t(slot->conv_kernel() - 1) *
                                                uint64_t(dtypeBytes(slot->dtype())))
                      : std::nullopt;
      auto ssm = product({slot->heads(), slot->head_dim(), slot->state_size(),
                          dtypeBytes(slot->ssm_dtype())});
      auto both = conv && ssm ? addBytes(*conv, *ssm) : std::nullopt;
      if (!both || !(sum = addBytes(bytes.mambaState, *both)))
        return overflow();
      bytes.mambaState = *sum;
    }
  }
  auto total = addBytes(bytes.kvCache, bytes.mambaState);
  if (!total || !addBytes(*total, bytes.stripeTables))
    return Status::error("artifact " + artifact.path() + ": the state of a session of " +
                         std::to_string(capacity) + " tokens has more bytes than 64 bits count");
  return bytes;
}

uint64_t largestArenaBytes(const Artifact &artifact) {
  uint64_t largest = 0;
  for (const auto *plan : *artifact.root().plans())
    for (const auto *function : *plan->functions())
      largest =
          std::max<uint64_t>(largest, uint64_t(std::max<int64_t>(0, function->arena_bytes())));
  return largest;
}

std::optional<uint64_t> availableHostBytes() {
  std::optional<uint64_t> available;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kib) == 1) {
      available = uint64_t(kib) * 1024;
      break;
    }
  }
  if (auto headroom = cgroupHeadroom())
    available = available ? std::min(*available, *headroom) : *headroom;
  return available;
}

std::string byteCount(uint64_t bytes) {
  char gib[48];
  std::snprintf(gib, sizeof(gib), " bytes (%.1f GiB)", double(bytes) / double(uint64_t(1) << 30));
  return std::to_string(bytes) + gib;
}

Status checkFits(const std::string &what, uint64_t needed, std::optional<uint64_t> available,
                 const std::string &where) {
  if (!available || needed <= *available)
    return Status::success();
  return Status::error(what + ": " + byteCount(needed) + " of " + where + " needed, but only " +
                       byteCount(*available) + " available");
}

}  // namespace sl::runtime
