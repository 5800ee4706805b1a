// sl_embedding.cuh: token embedding lookup.
#pragma once

#include "sl_common.cuh"

namespace slk {

// embedding<T, HIDDEN, THREADS>(tokens, table, out, n, vocab, error):
//   out[i, :] = table[tokens[i], :]; an id outside [0, vocab) writes zeros and records
//   `i + 1` in *error when *error is still 0 (first one by atomicCAS wins; with several bad
//   ids the recorded one is any of them, not necessarily the lowest index).
// grid (n), block THREADS, smem 0. 16-byte copies when HIDDEN * sizeof(T) % 16 == 0 (table and
// out must then be 16-byte aligned, which cudaMalloc'd tensors are), scalar copies otherwise.
template <typename T, int HIDDEN, int THREADS>
__device__ void embedding(const i32 *tokens, const T *table, T *out, i32 n, i32 vocab, i32 *error) {
  const i32 i = blockIdx.x;
  if (i >= n)
    return;
  const i32 id = tokens[i];
  const bool ok = id >= 0 && id < vocab;
  if (!ok && threadIdx.x == 0)
    atomicCAS(error, 0, i + 1);
  constexpr bool VECTOR = (HIDDEN * sizeof(T)) % 16 == 0;
  if constexpr (VECTOR) {
    constexpr int CHUNKS = HIDDEN * sizeof(T) / 16;
    const uint4 *src = reinterpret_cast<const uint4 *>(table + i64(ok ? id : 0) * HIDDEN);
    uint4 *dst = reinterpret_cast<uint4 *>(out + i64(i) * HIDDEN);
    for (int c = threadIdx.x; c < CHUNKS; c += THREADS) {
      uint4 v = make_uint4(0u, 0u, 0u, 0u);
      if (ok)
        v = src[c];
      dst[c] = v;
    }
  } else {
    const T *src = table + i64(ok ? id : 0) * HIDDEN;
    T *dst = out + i64(i) * HIDDEN;
    for (int c = threadIdx.x; c < HIDDEN; c += THREADS)
      dst[c] = ok ? src[c] : T{};
  }
}

}  // namespace slk
