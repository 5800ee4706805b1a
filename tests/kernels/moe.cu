// The MoE kernels instantiate for both targets: the real Nemotron-H layer (hidden 2688,
// 128 experts, top-6, expert intermediate 1856) in bf16, and tiny float / bf16 variants.
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_moe.cuh"

using slk::bf16;
using slk::i32;

// ---- real sizes, bf16 --------------------------------------------------------------------
extern "C" __global__ void __launch_bounds__(256)
moe_router_bf16(const bf16 *x, const bf16 *gate_w, const float *bias, float *weights, i32 *indices,
                i32 n, float scale, i32 norm) {
  slk::moe_router<bf16, bf16, 2688, 128, 6, 256>(x, gate_w, bias, weights, indices, n, scale, norm);
}
extern "C" __global__ void __launch_bounds__(1024)
moe_router_decode_bf16(const bf16 *x, const bf16 *gate_w, const float *bias, float *weights,
                       i32 *indices, i32 n, float scale, i32 norm) {
  slk::moe_router<bf16, bf16, 2688, 128, 6, 1024>(x, gate_w, bias, weights, indices, n, scale,
                                                  norm);
}
extern "C" __global__ void __launch_bounds__(256)
moe_topk_128(const float *logits, const float *bias, float *weights, i32 *indices, i32 n,
             float scale, i32 norm) {
  slk::moe_topk<128, 6, 256>(logits, bias, weights, indices, n, scale, norm);
}
extern "C" __global__ void __launch_bounds__(1024)
moe_align_128(const i32 *indices, i32 n, i32 *sorted_pair, i32 *tile_expert, i32 *num_tiles,
              i32 expert_offset) {
  slk::moe_align<128, 6, 128, 1024>(indices, n, sorted_pair, tile_expert, num_tiles, expert_offset);
}
extern "C" __global__ void __launch_bounds__(256)
moe_up_bf16(const bf16 *x, const bf16 *up, const i32 *sorted_pair, const i32 *tile_expert,
            const i32 *num_tiles, bf16 *h) {
  slk::moe_up<bf16, 2688, 1856, 6, 128, 128, 32, 4, 2, 4, slk::kActRelu2>(x, up, sorted_pair,
                                                                        tile_expert, num_tiles, h);
}
extern "C" __global__ void __launch_bounds__(256)
moe_down_bf16(const bf16 *h, const bf16 *down, const i32 *sorted_pair, const i32 *tile_expert,
              const i32 *num_tiles, bf16 *slot_out) {
  slk::moe_down<bf16, 2688, 1856, 6, 128, 128, 32, 4, 2, 4>(h, down, sorted_pair, tile_expert,
                                                          num_tiles, slot_out);
}
extern "C" __global__ void __launch_bounds__(256)
moe_combine_bf16(const bf16 *slot_out, const float *weights, const i32 *indices, const bf16 *shared_out,
                 const bf16 *residual, bf16 *out, i32 n, i32 expert_offset, i32 local_experts) {
  slk::moe_combine<bf16, 2688, 6, 256, true, true>(slot_out, weights, indices, shared_out, residual,
                                                   out, n, expert_offset, local_experts);
}
extern "C" __global__ void __launch_bounds__(256)
moe_decode_up_bf16(const bf16 *x, const bf16 *up, const i32 *indices, bf16 *h, i32 n, i32 expert_offset,
                   i32 local_experts) {
  slk::moe_decode_up<bf16, 2688, 1856, 6, 8, slk::kActRelu2>(x, up, indices, h, n, expert_offset,
                                                             local_experts);
}
extern "C" __global__ void __launch_bounds__(256)
moe_decode_down_bf16(const bf16 *h, const bf16 *down, const float *weights, const i32 *indices,
                     const bf16 *shared_out, const bf16 *residual, bf16 *out, i32 n,
                     i32 expert_offset, i32 local_experts) {
  slk::moe_decode_down<bf16, 2688, 1856, 6, 8, true, true>(h, down, weights, indices, shared_out,
                                                          residual, out, n, expert_offset,
                                                          local_experts);
}

// ---- tiny sizes, float and odd shapes ---------------------------------------------------
extern "C" __global__ void __launch_bounds__(64)
moe_router_f32(const float *x, const float *gate_w, const float *bias, float *weights, i32 *indices,
               i32 n, float scale, i32 norm) {
  slk::moe_router<float, float, 64, 40, 3, 64>(x, gate_w, bias, weights, indices, n, scale, norm);
}
extern "C" __global__ void __launch_bounds__(128)
moe_align_8(const i32 *indices, i32 n, i32 *sorted_pair, i32 *tile_expert, i32 *num_tiles,
            i32 expert_offset) {
  slk::moe_align<8, 2, 32, 128>(indices, n, sorted_pair, tile_expert, num_tiles, expert_offset);
}
extern "C" __global__ void __launch_bounds__(256)
moe_up_f32(const float *x, const float *up, const i32 *sorted_pair, const i32 *tile_expert,
           const i32 *num_tiles, float *h) {
  slk::moe_up<float, 64, 40, 2, 32, 32, 16, 2, 2, 4, slk::kActRelu2>(x, up, sorted_pair, tile_expert,
                                                                   num_tiles, h);
}
extern "C" __global__ void __launch_bounds__(256)
moe_down_f32(const float *h, const float *down, const i32 *sorted_pair, const i32 *tile_expert,
             const i32 *num_tiles, float *slot_out) {
  slk::moe_down<float, 64, 40, 2, 32, 32, 16, 2, 2, 4>(h, down, sorted_pair, tile_expert, num_tiles,
                                                      slot_out);
}
extern "C" __global__ void __launch_bounds__(128)
moe_up_bf16_small(const bf16 *x, const bf16 *up, const i32 *sorted_pair, const i32 *tile_expert,
                  const i32 *num_tiles, bf16 *h) {
  slk::moe_up<bf16, 64, 40, 2, 32, 32, 32, 3, 2, 2, slk::kActRelu2>(x, up, sorted_pair, tile_expert,
                                                                  num_tiles, h);
}
extern "C" __global__ void __launch_bounds__(64)
moe_combine_f32(const float *slot_out, const float *weights, const i32 *indices, const float *shared_out,
                const float *residual, float *out, i32 n, i32 expert_offset, i32 local_experts) {
  slk::moe_combine<float, 63, 2, 64, false, true>(slot_out, weights, indices, shared_out, residual, out,
                                                 n, expert_offset, local_experts);
}
extern "C" __global__ void __launch_bounds__(128)
moe_decode_up_f32(const float *x, const float *up, const i32 *indices, float *h, i32 n,
                  i32 expert_offset, i32 local_experts) {
  slk::moe_decode_up<float, 64, 40, 2, 4, slk::kActRelu2>(x, up, indices, h, n, expert_offset,
                                                          local_experts);
}
extern "C" __global__ void __launch_bounds__(128)
moe_decode_down_f32(const float *h, const float *down, const float *weights, const i32 *indices,
                    const float *shared_out, const float *residual, float *out, i32 n,
                    i32 expert_offset, i32 local_experts) {
  slk::moe_decode_down<float, 64, 40, 2, 4, false, false>(h, down, weights, indices, shared_out,
                                                         residual, out, n, expert_offset,
                                                         local_experts);
}
