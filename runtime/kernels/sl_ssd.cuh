// sl_ssd.cuh: the Mamba-2 SSD (state-space duality) scan: chunked prefill and sequential decode.
//
// Inputs (docs/kernels-mamba.md has the launch sequence and formulas):
//   xbc  [n, ldxbc]: the conv output; x = columns [0, HEADS*HEAD_DIM), B = the next GROUPS*STATE,
//        C = the next GROUPS*STATE; group g serves heads g*HEADS/GROUPS .. (g+1)*HEADS/GROUPS-1.
//   dt   [n, lddt] raw (a column slice of in_proj's output), one column per head.
//   A_log, D, dt_bias [HEADS] fp32; ssm_state [HEADS][HEAD_DIM][STATE] fp32 (updated in place).
//   y    [n, ldy], HEADS*HEAD_DIM columns, rounded to T at the end.
// Per head h: dt = clamp(softplus(dt_raw + dt_bias), dt_min, dt_max); A = -exp(A_log);
//   h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T;  y_t = h_t C_t + D x_t.
// Prefill (chunk length CHUNK; the last chunk may be partial), with NC = ceil(n / CHUNK),
// NP = NC * CHUNK:
//   1. ssd_chunk_cumsum: dt_s, cum_s [HEADS][NP] (dt, inclusive cumsum of dt*A within a chunk;
//      dt = 0 past n, so padded tokens change nothing).
//   2. ssd_chunk_state: states[c][h] = sum_t exp(cum_last - cum_t) dt_t x_t B_t^T  (fp32).
//   3. ssd_state_pass: sequential over chunks; states[c][h] becomes the state entering chunk c
//      (starting from ssm_state) and ssm_state receives the final state.
//   4. ssd_chunk_scan: y_t = exp(cum_t) C_t . S_c + sum_{u<=t} (C_t.B_u) exp(cum_t-cum_u) dt_u x_u
//      + D x_t.
// All matmuls here use fp32 FMA from shared memory (register micro-tiles). HEADS, HEAD_DIM,
// GROUPS and STATE may be any size (HEADS a multiple of GROUPS); CHUNK is the compiler's choice,
// a multiple of 32: the result does not depend on it.
#pragma once

#include "sl_common.cuh"

namespace slk {

// ------------------------------------------------------------------------------------------
// Helpers: register micro-tiled fp32 matmul over shared-memory operands (any sizes).
// ------------------------------------------------------------------------------------------
__host__ __device__ constexpr int ssd_min(int a, int b) { return a < b ? a : b; }
__host__ __device__ constexpr int ssd_max(int a, int b) { return a > b ? a : b; }
__host__ __device__ constexpr bool ssd_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

// Per-thread tile TM x TN of an M x N output over THREADS threads, returned as TM * 4096 + TN.
// Powers of two: TM * TN = max(1, M*N/THREADS), grown along the longer side (the tiles the
// kernels were tuned with). Other sizes (head_dim 80, state 24, ...): TM | M and TN | N chosen
// so that the (M/TM) x (N/TN) thread grid fills as many of the THREADS as possible, then the
// squarest tile, so an 80-wide head keeps every thread busy instead of padding to 128.
__host__ __device__ constexpr int ssd_tile_shape(int M, int N, int THREADS) {
  if (ssd_pow2(M) && ssd_pow2(N) && ssd_pow2(THREADS)) {
    const int per = M * N / THREADS > 0 ? M * N / THREADS : 1;
    int tm = 1, tn = 1;
    while (tm * tn < per) {
      if ((M / tm >= N / tn && tm < M) || tn >= N)
        tm *= 2;
      else
        tn *= 2;
    }
    return tm * 4096 + tn;
  }
  int best_tm = M, best_tn = N, best_used = 1, best_skew = M + N;
  for (int tm = 1; tm <= M; ++tm) {
    if (M % tm != 0)
      continue;
    for (int tn = 1; tn <= N; ++tn) {
      if (N % tn != 0)
        continue;
      const int used = (M / tm) * (N / tn);
      const int skew = tm > tn ? tm - tn : tn - tm;
      if (used <= THREADS && (used > best_used || (used == best_used && skew < best_skew))) {
        best_tm = tm;
        best_tn = tn;
        best_used = used;
        best_skew = skew;
      }
    }
  }
  return best_tm * 4096 + best_tn;
}

// Thread `tid` owns rows ty + i*(M/TM) and columns tx + j*(N/TN) of an M x N output.
template <int M, int N, int THREADS> struct SsdTile {
  static constexpr int TM = ssd_tile_shape(M, N, THREADS) / 4096;
  static constexpr int TN = ssd_tile_shape(M, N, THREADS) % 4096;
  static constexpr int MY = M / TM;
  static constexpr int NX = N / TN;
  static_assert(M % TM == 0 && N % TN == 0 && MY * NX <= THREADS, "tile layout");
  __device__ static bool active() { return (int)threadIdx.x < MY * NX; }
  __device__ static int row(int i) { return (int)threadIdx.x / NX + i * MY; }
  __device__ static int col(int j) { return (int)threadIdx.x % NX + j * NX; }
  // acc[i][j] += sum_{k < KT} A[k][row(i)] * B[k][col(j)] (both operands k-major in smem).
  template <int KT>
  __device__ static void mma(float (&acc)[TM][TN], const float *A, int lda, const float *B,
                             int ldb) {
    if (!active())
      return;
    const int r0 = (int)threadIdx.x / NX, c0 = (int)threadIdx.x % NX;
#pragma unroll 4
    for (int k = 0; k < KT; ++k) {
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i)
        a[i] = A[k * lda + r0 + i * MY];
#pragma unroll
      for (int j = 0; j < TN; ++j)
        b[j] = B[k * ldb + c0 + j * NX];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j)
          acc[i][j] += a[i] * b[j];
    }
  }
};

__device__ __forceinline__ float ssd_dt(float raw, float bias, float dt_min, float dt_max) {
  float dt = softplus(raw + bias);
  return fminf(fmaxf(dt, dt_min), dt_max);
}

// K-tile over tokens (CHUNK is a multiple of 32) and over the state (the last state tile is
// zero-filled past STATE, so STATE may be any size).
__host__ __device__ constexpr int ssd_kt(int CHUNK) { return ssd_min(32, CHUNK); }
__host__ __device__ constexpr int ssd_ks(int STATE) { return ssd_min(32, STATE); }

// Dynamic shared memory of ssd_chunk_state and ssd_chunk_scan, in bytes.
__host__ __device__ constexpr int ssd_chunk_state_smem(int HEAD_DIM, int STATE, int CHUNK) {
  return 4 * (ssd_kt(CHUNK) * (HEAD_DIM + STATE) + CHUNK);
}
__host__ __device__ constexpr int ssd_chunk_scan_smem(int HEAD_DIM, int CHUNK) {
  return 4 * (CHUNK * (CHUNK + 1) + 2 * ssd_kt(CHUNK) * (ssd_max(CHUNK, HEAD_DIM) + 1) +
              2 * CHUNK);
}

// ------------------------------------------------------------------------------------------
// 1. dt and the within-chunk cumulative dt*A. grid (NC, HEADS), block CHUNK, no dynamic smem.
// ------------------------------------------------------------------------------------------
template <typename T, int HEADS, int CHUNK>
__device__ void ssd_chunk_cumsum(const T *dt_raw, i32 lddt, const float *dt_bias,
                                 const float *A_log, float *dt_s, float *cum_s, i32 n,
                                 float dt_min, float dt_max) {
  static_assert(CHUNK % 32 == 0 && CHUNK <= 1024, "CHUNK must be a multiple of 32, <= 1024");
  __shared__ float warp_total[32];
  const int c = blockIdx.x, h = blockIdx.y, i = threadIdx.x;
  const int t = c * CHUNK + i;
  const i64 np = (i64)gridDim.x * CHUNK;
  float dt = 0.0f;
  if (t < n)
    dt = ssd_dt(load_f32(dt_raw + (i64)t * lddt + h), dt_bias[h], dt_min, dt_max);
  const float A = -expf(A_log[h]);
  float v = dt * A;
  const int lane = i % 32, warp = i / 32;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    float o = __shfl_up_sync(0xffffffffu, v, off);
    if (lane >= off)
      v += o;
  }
  if (lane == 31)
    warp_total[warp] = v;
  __syncthreads();
  float prefix = 0.0f;
  for (int w = 0; w < warp; ++w)
    prefix += warp_total[w];
  v += prefix;
  dt_s[(i64)h * np + t] = dt;
  cum_s[(i64)h * np + t] = v;
}

// ------------------------------------------------------------------------------------------
// 2. Chunk states. grid (NC, HEADS), block THREADS, dynamic smem
//    ssd_chunk_state_smem(HEAD_DIM, STATE, CHUNK) bytes. states [NC][HEADS][HEAD_DIM][STATE] fp32.
// ------------------------------------------------------------------------------------------
template <typename T, int HEADS, int HEAD_DIM, int GROUPS, int STATE, int CHUNK, int THREADS>
__device__ void ssd_chunk_state(const T *xbc, i32 ldxbc, const float *dt_s, const float *cum_s,
                                float *states, i32 n) {
  constexpr int KT = ssd_kt(CHUNK);
  static_assert(CHUNK % KT == 0, "CHUNK must be a multiple of 32");
  typedef SsdTile<HEAD_DIM, STATE, THREADS> Tile;
  extern __shared__ __align__(16) float ssd_smem[];
  float *xs = ssd_smem;            // [KT][HEAD_DIM]
  float *bs = xs + KT * HEAD_DIM;  // [KT][STATE]
  float *w = bs + KT * STATE;      // [CHUNK]
  const int c = blockIdx.x, h = blockIdx.y;
  const int g = h / (HEADS / GROUPS);
  const i64 np = (i64)gridDim.x * CHUNK;
  const float *cum = cum_s + (i64)h * np + (i64)c * CHUNK;
  const float *dt = dt_s + (i64)h * np + (i64)c * CHUNK;
  const float cum_last = cum[CHUNK - 1];
  for (int i = threadIdx.x; i < CHUNK; i += THREADS)
    w[i] = __expf(cum_last - cum[i]) * dt[i];
  float acc[Tile::TM][Tile::TN];
#pragma unroll
  for (int i = 0; i < Tile::TM; ++i)
#pragma unroll
    for (int j = 0; j < Tile::TN; ++j)
      acc[i][j] = 0.0f;
  const i64 xcol = (i64)h * HEAD_DIM;
  const i64 bcol = (i64)HEADS * HEAD_DIM + (i64)g * STATE;
  __syncthreads();
  for (int k0 = 0; k0 < CHUNK; k0 += KT) {
    for (int idx = threadIdx.x; idx < KT * HEAD_DIM; idx += THREADS) {
      const int tt = idx / HEAD_DIM, p = idx % HEAD_DIM;
      const int t = c * CHUNK + k0 + tt;
      xs[idx] = t < n ? load_f32(xbc + (i64)t * ldxbc + xcol + p) * w[k0 + tt] : 0.0f;
    }
    for (int idx = threadIdx.x; idx < KT * STATE; idx += THREADS) {
      const int tt = idx / STATE, s = idx % STATE;
      const int t = c * CHUNK + k0 + tt;
      bs[idx] = t < n ? load_f32(xbc + (i64)t * ldxbc + bcol + s) : 0.0f;
    }
    __syncthreads();
    Tile::template mma<KT>(acc, xs, HEAD_DIM, bs, STATE);
    __syncthreads();
  }
  if (!Tile::active())
    return;
  float *out = states + ((i64)c * HEADS + h) * HEAD_DIM * STATE;
#pragma unroll
  for (int i = 0; i < Tile::TM; ++i)
#pragma unroll
    for (int j = 0; j < Tile::TN; ++j)
      out[(i64)Tile::row(i) * STATE + Tile::col(j)] = acc[i][j];
}

// ------------------------------------------------------------------------------------------
// 3. Inter-chunk pass. grid (ceil(HEADS*HEAD_DIM*STATE / THREADS)), block THREADS, no smem.
//    states[c] <- state entering chunk c; ssm_state <- state after the last token.
// ------------------------------------------------------------------------------------------
template <int HEADS, int HEAD_DIM, int STATE, int CHUNK, int THREADS>
__device__ void ssd_state_pass(float *states, const float *cum_s, float *ssm_state, i32 n) {
  constexpr i64 PER_HEAD = (i64)HEAD_DIM * STATE;
  constexpr i64 TOTAL = (i64)HEADS * PER_HEAD;
  const i64 e = (i64)blockIdx.x * THREADS + threadIdx.x;
  if (e >= TOTAL)
    return;
  const int h = (int)(e / PER_HEAD);
  const int nc = (int)ceil_div(n, CHUNK);
  const i64 np = (i64)nc * CHUNK;
  float run = ssm_state[e];
  // Groups of 4 chunks: the 4 loads are issued before the dependent updates (latency bound).
  int c = 0;
  for (; c + 4 <= nc; c += 4) {
    float s[4], decay[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      s[k] = states[(i64)(c + k) * TOTAL + e];
      decay[k] = cum_s[(i64)h * np + (i64)(c + k) * CHUNK + CHUNK - 1];
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      states[(i64)(c + k) * TOTAL + e] = run;
      run = expf(decay[k]) * run + s[k];
    }
  }
  for (; c < nc; ++c) {
    const float s = states[(i64)c * TOTAL + e];
    states[(i64)c * TOTAL + e] = run;
    run = expf(cum_s[(i64)h * np + (i64)c * CHUNK + CHUNK - 1]) * run + s;
  }
  ssm_state[e] = run;
}

// ------------------------------------------------------------------------------------------
// 4. Chunk outputs. grid (NC, HEADS), block THREADS,
//    dynamic smem ssd_chunk_scan_smem(HEAD_DIM, CHUNK) bytes.
// ------------------------------------------------------------------------------------------
template <typename T, int HEADS, int HEAD_DIM, int GROUPS, int STATE, int CHUNK, int THREADS>
__device__ void ssd_chunk_scan(const T *xbc, i32 ldxbc, const float *D, const float *dt_s,
                               const float *cum_s, const float *states, T *y, i32 ldy, i32 n) {
  constexpr int KT = ssd_kt(CHUNK);                    // token K tile
  constexpr int KS = ssd_ks(STATE);                    // state K tile (<= KT rows)
  constexpr int LDM = CHUNK + 1;                       // mt[u][t]
  constexpr int LDT = ssd_max(CHUNK, HEAD_DIM) + 1;    // operand tiles
  static_assert(CHUNK % KT == 0, "CHUNK must be a multiple of 32");
  typedef SsdTile<CHUNK, CHUNK, THREADS> TileCB;
  typedef SsdTile<CHUNK, HEAD_DIM, THREADS> TileY;
  extern __shared__ __align__(16) float ssd_smem[];
  float *mt = ssd_smem;                 // [CHUNK][LDM]
  float *ta = mt + CHUNK * LDM;         // [KT][LDT]
  float *tb = ta + KT * LDT;            // [KT][LDT]
  float *cum = tb + KT * LDT;           // [CHUNK]
  float *dtc = cum + CHUNK;             // [CHUNK]

  const int c = blockIdx.x, h = blockIdx.y;
  const int g = h / (HEADS / GROUPS);
  const i64 np = (i64)gridDim.x * CHUNK;
  const int t_base = c * CHUNK;
  const i64 xcol = (i64)h * HEAD_DIM;
  const i64 bcol = (i64)HEADS * HEAD_DIM + (i64)g * STATE;
  const i64 ccol = bcol + (i64)GROUPS * STATE;
  for (int i = threadIdx.x; i < CHUNK; i += THREADS) {
    cum[i] = cum_s[(i64)h * np + t_base + i];
    dtc[i] = dt_s[(i64)h * np + t_base + i];
  }

  // CB[t][u] = C_t . B_u
  float acc1[TileCB::TM][TileCB::TN];
#pragma unroll
  for (int i = 0; i < TileCB::TM; ++i)
#pragma unroll
    for (int j = 0; j < TileCB::TN; ++j)
      acc1[i][j] = 0.0f;
  for (int s0 = 0; s0 < STATE; s0 += KS) {
    for (int idx = threadIdx.x; idx < CHUNK * KS; idx += THREADS) {
      const int tt = idx / KS, ss = idx % KS;
      const int t = t_base + tt;
      const bool ok = t < n && (STATE % KS == 0 || s0 + ss < STATE);
      const T *row = xbc + (i64)t * ldxbc;
      ta[ss * LDT + tt] = ok ? load_f32(row + ccol + s0 + ss) : 0.0f;
      tb[ss * LDT + tt] = ok ? load_f32(row + bcol + s0 + ss) : 0.0f;
    }
    __syncthreads();
    TileCB::template mma<KS>(acc1, ta, LDT, tb, LDT);
    __syncthreads();
  }
  // mt[u][t] = (u <= t) CB[t][u] exp(cum_t - cum_u) dt_u
  if (TileCB::active()) {
#pragma unroll
    for (int i = 0; i < TileCB::TM; ++i)
#pragma unroll
      for (int j = 0; j < TileCB::TN; ++j) {
        const int t = TileCB::row(i), u = TileCB::col(j);
        mt[u * LDM + t] = u <= t ? acc1[i][j] * __expf(cum[t] - cum[u]) * dtc[u] : 0.0f;
      }
  }

  // Inter-chunk: acc2[t][p] = exp(cum_t) sum_s C[t][s] S[p][s]
  float acc2[TileY::TM][TileY::TN];
#pragma unroll
  for (int i = 0; i < TileY::TM; ++i)
#pragma unroll
    for (int j = 0; j < TileY::TN; ++j)
      acc2[i][j] = 0.0f;
  const float *st = states + ((i64)c * HEADS + h) * HEAD_DIM * STATE;
  for (int s0 = 0; s0 < STATE; s0 += KS) {
    for (int idx = threadIdx.x; idx < CHUNK * KS; idx += THREADS) {
      const int tt = idx / KS, ss = idx % KS;
      const int t = t_base + tt;
      const bool ok = t < n && (STATE % KS == 0 || s0 + ss < STATE);
      ta[ss * LDT + tt] = ok ? load_f32(xbc + (i64)t * ldxbc + ccol + s0 + ss) : 0.0f;
    }
    for (int idx = threadIdx.x; idx < HEAD_DIM * KS; idx += THREADS) {
      const int p = idx / KS, ss = idx % KS;
      const bool ok = STATE % KS == 0 || s0 + ss < STATE;
      tb[ss * LDT + p] = ok ? st[(i64)p * STATE + s0 + ss] : 0.0f;
    }
    __syncthreads();
    TileY::template mma<KS>(acc2, ta, LDT, tb, LDT);
    __syncthreads();
  }
  if (TileY::active()) {
#pragma unroll
    for (int i = 0; i < TileY::TM; ++i) {
      const float e = __expf(cum[TileY::row(i)]);
#pragma unroll
      for (int j = 0; j < TileY::TN; ++j)
        acc2[i][j] *= e;
    }
  }
  // Intra-chunk: acc2[t][p] += sum_u mt[u][t] x[u][p]
  for (int u0 = 0; u0 < CHUNK; u0 += KT) {
    for (int idx = threadIdx.x; idx < KT * HEAD_DIM; idx += THREADS) {
      const int uu = idx / HEAD_DIM, p = idx % HEAD_DIM;
      const int t = t_base + u0 + uu;
      ta[uu * LDT + p] = t < n ? load_f32(xbc + (i64)t * ldxbc + xcol + p) : 0.0f;
    }
    __syncthreads();
    TileY::template mma<KT>(acc2, mt + u0 * LDM, LDM, ta, LDT);
    __syncthreads();
  }
  if (!TileY::active())
    return;
  const float dh = D[h];
#pragma unroll
  for (int i = 0; i < TileY::TM; ++i) {
    const int t = t_base + TileY::row(i);
    if (t >= n)
      continue;
#pragma unroll
    for (int j = 0; j < TileY::TN; ++j) {
      const int p = TileY::col(j);
      const float xv = load_f32(xbc + (i64)t * ldxbc + xcol + p);
      store_f32(y + (i64)t * ldy + xcol + p, acc2[i][j] + dh * xv);
    }
  }
}

// ------------------------------------------------------------------------------------------
// Decode: sequential over the n tokens, one state update each. grid (HEADS, HEAD_DIM/ROWS),
// block 32*ROWS (one warp per state row p), no smem. ssm_state is read once and written once.
// ------------------------------------------------------------------------------------------
template <typename T, int HEADS, int HEAD_DIM, int GROUPS, int STATE, int ROWS>
__device__ void ssd_step(const T *xbc, i32 ldxbc, const T *dt_raw, i32 lddt, const float *A_log,
                         const float *D, const float *dt_bias, float *ssm_state, T *y, i32 ldy,
                         i32 n, float dt_min, float dt_max) {
  static_assert(HEAD_DIM % ROWS == 0, "ROWS must divide HEAD_DIM");
  constexpr int SPL = (STATE + 31) / 32;
  const int h = blockIdx.x;
  const int lane = threadIdx.x % 32;
  const int p = blockIdx.y * ROWS + threadIdx.x / 32;
  const int g = h / (HEADS / GROUPS);
  const i64 xcol = (i64)h * HEAD_DIM + p;
  const i64 bcol = (i64)HEADS * HEAD_DIM + (i64)g * STATE;
  const i64 ccol = bcol + (i64)GROUPS * STATE;
  float *sp = ssm_state + ((i64)h * HEAD_DIM + p) * STATE;
  float st[SPL];
#pragma unroll
  for (int i = 0; i < SPL; ++i) {
    const int s = lane + 32 * i;
    st[i] = s < STATE ? sp[s] : 0.0f;
  }
  const float A = -expf(A_log[h]);
  const float dh = D[h], bias = dt_bias[h];
  for (int t = 0; t < n; ++t) {
    const T *row = xbc + (i64)t * ldxbc;
    const float dt = ssd_dt(load_f32(dt_raw + (i64)t * lddt + h), bias, dt_min, dt_max);
    const float dA = expf(dt * A);
    const float xv = load_f32(row + xcol);
    float part = 0.0f;
#pragma unroll
    for (int i = 0; i < SPL; ++i) {
      const int s = lane + 32 * i;
      if (s < STATE) {
        st[i] = dA * st[i] + dt * xv * load_f32(row + bcol + s);
        part += load_f32(row + ccol + s) * st[i];
      }
    }
    part = warp_sum(part);
    if (lane == 0)
      store_f32(y + (i64)t * ldy + xcol, part + dh * xv);
  }
#pragma unroll
  for (int i = 0; i < SPL; ++i) {
    const int s = lane + 32 * i;
    if (s < STATE)
      sp[s] = st[i];
  }
}

}  // namespace slk
