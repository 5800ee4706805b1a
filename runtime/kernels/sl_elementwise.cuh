// sl_elementwise.cuh: element-wise ops that no epilogue absorbed (residual adds, activations).
#pragma once

#include "sl_common.cuh"

namespace slk {

// out[t, c] = a[t, c] + b[t, c] for t < n, c < COLS (all contiguous), rounded to T.
// Grid: (ceil(n * COLS / (THREADS * 4))), block THREADS.
template <typename T, int COLS, int THREADS>
__device__ void add(const T *a, const T *b, T *out, i32 n) {
  const i64 count = i64(n) * COLS;
  const i64 first = (i64(blockIdx.x) * THREADS + threadIdx.x) * 4;
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (first + i < count)
      store_f32(out + first + i, load_f32(a + first + i) + load_f32(b + first + i));
}

// out[t, c] = act(x[t, c]) with ACT one of kActSilu, kActRelu2. Same grid as add.
template <typename T, int COLS, int ACT, int THREADS>
__device__ void activation(const T *x, T *out, i32 n) {
  const i64 count = i64(n) * COLS;
  const i64 first = (i64(blockIdx.x) * THREADS + threadIdx.x) * 4;
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (first + i < count)
      store_f32(out + first + i, activate<ACT>(load_f32(x + first + i)));
}

}  // namespace slk
