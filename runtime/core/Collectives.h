// The collectives of a tensor-parallel plan (Launch.collective) between ranks that share one
// process: the CPU backend's simulation of N ranks, one thread each. Sums are taken in rank
// order (0, 1, ...) in fp32, so every rank gets the same bits, run after run.
#pragma once

#include "runtime/core/Executor.h"
#include "runtime/schema/artifact_generated.h"
#include "runtime/support/Status.h"

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace sl::runtime {

// Runs work(r) for every rank r < `ranks`, each on a thread of its own (rank 0 on the caller's),
// and returns when all have: the ranks of a group meet at their collectives.
void onRankThreads(size_t ranks, const std::function<void(size_t)> &work);

// The output rows rank `rank` of a group computes for a call of `function` asking for `rows`:
// the outputs are rank 0's (the LM head is replicated), so the other ranks skip the output-rows
// launches (none), unless a collective is one of them (every rank must join it).
OutputRows rowsOfRank(const sl::schema::Function &function, size_t rank, OutputRows rows);

// buffers[r] (`count` elements of `dtype`, f32, f16 or bf16) of every rank r becomes the sum
// over the ranks, added in rank order in fp32 and rounded once to `dtype`.
void sumInRankOrder(const std::vector<void *> &buffers, size_t count, sl::schema::DType dtype);

// A group of `ranks` threads that meet at each collective.
class InProcessCollectives {
public:
  explicit InProcessCollectives(int ranks) : ranks_(ranks), buffers_(size_t(ranks)) {}
  int ranks() const { return ranks_; }
  // Rank `rank`'s part of an all-reduce (sum): returns when every rank has called it and the
  // sum is in every rank's buffer. An error when a rank gave up (abort()) or the ranks disagree
  // on the size or type (which also aborts).
  Status allReduceSum(int rank, void *data, size_t count, sl::schema::DType dtype);
  // A rank that failed: the others stop waiting (their allReduceSum fails) until reset().
  void abort();
  // Before a call: no rank has failed.
  void reset();

private:
  int ranks_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<void *> buffers_;
  size_t count_ = 0;
  sl::schema::DType dtype_ = sl::schema::DType::f32;
  int waiting_ = 0;
  uint64_t round_ = 0;
  bool aborted_ = false;
  bool mismatch_ = false;
};

}  // namespace sl::runtime
