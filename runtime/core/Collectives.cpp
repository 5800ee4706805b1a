#include "runtime/core/Collectives.h"

#include "runtime/io/Safetensors.h"

#include <cstdint>
#include <cstring>
#include <thread>

namespace sl::runtime {

namespace {
float load(const void *data, size_t i, sl::schema::DType dtype) {
  if (dtype == sl::schema::DType::f32) {
    float value;
    std::memcpy(&value, static_cast<const uint8_t *>(data) + 4 * i, 4);
    return value;
  }
  uint16_t bits;
  std::memcpy(&bits, static_cast<const uint8_t *>(data) + 2 * i, 2);
  return dtype == sl::schema::DType::bf16 ? io::bf16ToF32(bits) : io::f16ToF32(bits);
}

void store(void *data, size_t i, sl::schema::DType dtype, float value) {
  if (dtype == sl::schema::DType::f32) {
    std::memcpy(static_cast<uint8_t *>(data) + 4 * i, &value, 4);
    return;
  }
  uint16_t bits = dtype == sl::schema::DType::bf16 ? io::f32ToBF16(value) : io::f32ToF16(value);
  std::memcpy(static_cast<uint8_t *>(data) + 2 * i, &bits, 2);
}
}  // namespace

void onRankThreads(size_t ranks, const std::function<void(size_t)> &work) {
  std::vector<std::thread> threads;
  for (size_t rank = 1; rank < ranks; ++rank)
    threads.emplace_back(work, rank);
  if (ranks > 0)
    work(0);
  for (std::thread &thread : threads)
    thread.join();
}

OutputRows rowsOfRank(const sl::schema::Function &function, size_t rank, OutputRows rows) {
  if (rank == 0)
    return rows;
  for (const auto *launch : *function.launches())
    if (launch->collective() && launch->output_rows())
      return rows;
  return OutputRows::none;
}

void sumInRankOrder(const std::vector<void *> &buffers, size_t count, sl::schema::DType dtype) {
  for (size_t i = 0; i < count; ++i) {
    float sum = 0.0f;
    for (const void *buffer : buffers)
      sum += load(buffer, i, dtype);
    for (void *buffer : buffers)
      store(buffer, i, dtype, sum);
  }
}

Status InProcessCollectives::allReduceSum(int rank, void *data, size_t count,
                                          sl::schema::DType dtype) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (aborted_)
    return Status::error("another rank failed before this all-reduce");
  if (waiting_ == 0) {
    count_ = count;
    dtype_ = dtype;
    mismatch_ = false;
  } else if (count != count_ || dtype != dtype_) {
    mismatch_ = true;
  }
  buffers_[size_t(rank)] = data;
  const uint64_t round = round_;
  const char *mismatch = "the ranks reached an all-reduce with different sizes or types";
  if (++waiting_ == ranks_) {
    // The last rank to arrive sums for all: every other rank waits, its buffer untouched. A
    // mismatch fails every rank, now and at any later collective of this call.
    if (mismatch_)
      aborted_ = true;
    else
      sumInRankOrder(buffers_, count_, dtype_);
    waiting_ = 0;
    ++round_;
    arrived_.notify_all();
    return mismatch_ ? Status::error(mismatch) : Status::success();
  }
  arrived_.wait(lock, [&] { return round_ != round || aborted_; });
  if (aborted_)
    return Status::error(mismatch_ ? mismatch : "another rank failed during this all-reduce");
  return Status::success();
}

void InProcessCollectives::abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = true;
  arrived_.notify_all();
}

void InProcessCollectives::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = false;
  waiting_ = 0;
}

}  // namespace sl::runtime
