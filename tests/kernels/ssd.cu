// Every sl_ssd.cuh template instantiates for both targets (bf16 and float, real, tiny and
// non-power-of-two sizes).
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_ssd.cuh"

using slk::bf16;
using slk::i32;

#define SSD_KERNELS(T, NAME, H, P, G, N, L, THREADS, ROWS)                                          \
  extern "C" __global__ void __launch_bounds__(L)                                                  \
      ssd_cumsum_##NAME(const T *dt, i32 lddt, const float *dt_bias, const float *A_log,           \
                        float *dt_s, float *cum_s, i32 n, float dt_min, float dt_max) {            \
    slk::ssd_chunk_cumsum<T, H, L>(dt, lddt, dt_bias, A_log, dt_s, cum_s, n, dt_min, dt_max);      \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(THREADS)                                            \
      ssd_chunk_state_##NAME(const T *xbc, i32 ldxbc, const float *dt_s, const float *cum_s,       \
                             float *states, i32 n) {                                               \
    slk::ssd_chunk_state<T, H, P, G, N, L, THREADS>(xbc, ldxbc, dt_s, cum_s, states, n);           \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(THREADS)                                            \
      ssd_state_pass_##NAME(float *states, const float *cum_s, float *ssm_state, i32 n) {          \
    slk::ssd_state_pass<H, P, N, L, THREADS>(states, cum_s, ssm_state, n);                         \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(THREADS)                                            \
      ssd_chunk_scan_##NAME(const T *xbc, i32 ldxbc, const float *D, const float *dt_s,            \
                            const float *cum_s, const float *states, T *y, i32 ldy, i32 n) {       \
    slk::ssd_chunk_scan<T, H, P, G, N, L, THREADS>(xbc, ldxbc, D, dt_s, cum_s, states, y, ldy, n); \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(32 * ROWS)                                          \
      ssd_step_##NAME(const T *xbc, i32 ldxbc, const T *dt, i32 lddt, const float *A_log,          \
                      const float *D, const float *dt_bias, float *ssm_state, T *y, i32 ldy,       \
                      i32 n, float dt_min, float dt_max) {                                         \
    slk::ssd_step<T, H, P, G, N, ROWS>(xbc, ldxbc, dt, lddt, A_log, D, dt_bias, ssm_state, y, ldy, \
                                       n, dt_min, dt_max);                                         \
  }

// Real model: 64 heads x 64, 8 groups, state 128, chunk 128.
SSD_KERNELS(bf16, bf16_h64_p64_g8_n128_l128, 64, 64, 8, 128, 128, 256, 4)
SSD_KERNELS(float, f32_h64_p64_g8_n128_l128, 64, 64, 8, 128, 128, 256, 4)
// Tiny: 8 heads x 8, 2 groups, state 16, chunk 32.
SSD_KERNELS(bf16, bf16_h8_p8_g2_n16_l32, 8, 8, 2, 16, 32, 128, 2)
SSD_KERNELS(float, f32_h8_p8_g2_n16_l32, 8, 8, 2, 16, 32, 128, 2)
// Sizes that are not powers of two (the family: head_dim 80, 96 and 128 heads; tiny configs:
// 6 heads of 24 in 3 groups, state 20-130, chunk 64), and ROWS 2 / 1 for head_dim 18 / 5.
SSD_KERNELS(bf16, bf16_h96_p80_g8_n128_l128, 96, 80, 8, 128, 128, 256, 4)
SSD_KERNELS(bf16, bf16_h128_p80_g8_n128_l128, 128, 80, 8, 128, 128, 256, 4)
SSD_KERNELS(float, f32_h6_p24_g3_n24_l64, 6, 24, 3, 24, 64, 256, 4)
SSD_KERNELS(float, f32_h12_p18_g3_n20_l32, 12, 18, 3, 20, 32, 256, 2)
SSD_KERNELS(bf16, bf16_h5_p5_g1_n130_l128, 5, 5, 1, 130, 128, 256, 1)
