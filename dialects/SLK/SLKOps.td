#ifndef SLK_OPS_TD
#define SLK_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def SLK_Dialect : Dialect {
  let name = "slk";
  let cppNamespace = "::mlir::slk";
  let summary = "Kernel-level dialect: specialised kernels, launches and buffers";
  let description = [{
    After `sl-lower-to-slk` a model function is a list of kernel launches over buffers:
    `slk.kernel` declares one specialisation of a kernel-library template (its name encodes the
    specialisation, e.g. `gemm_bf16_bm128_bn128_bk32_s3_w2x4`); `slk.alloc` is an arena buffer
    (planned by `sl-plan-buffers`), `slk.weight` a checkpoint tensor, `slk.column_slice` a view;
    `slk.launch` runs a kernel with an argument list that maps the template's parameters to
    buffers, state parts, run-time scalars and constants. KV caches and Mamba states stay
    `!sl.kv_cache` / `!sl.mamba_state` function arguments, updated in place.
  }];
}

class SLK_Op<string mnemonic, list<Trait> traits = []> : Op<SLK_Dialect, mnemonic, traits>;

def SLK_KernelOp : SLK_Op<"kernel", [Symbol, IsolatedFromAbove]> {
  let summary = "One specialisation of a kernel-library template";
  let description = [{
    `template_name` names the `slk::` template of the library header `header`; `template_args`
    are its template arguments (C++ spellings) in order; `threads` and `smem` are the block size
    and dynamic shared memory in bytes. `sl-emit-cuda` attaches `source`, the `extern "C"`
    wrapper compiled by NVRTC.

    ```mlir
    slk.kernel @rms_norm_bf16_h2688_t256 {template_name = "rms_norm", header = "sl_norm.cuh",
        template_args = ["slk::bf16", "slk::bf16", "2688", "256"], threads = 256 : i64,
        smem = 0 : i64}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$template_name, StrAttr:$header,
                       StrArrayAttr:$template_args, I64Attr:$threads, I64Attr:$smem,
                       OptionalAttr<StrAttr>:$source);
  let assemblyFormat = "$sym_name attr-dict";
}

def SLK_AllocOp : SLK_Op<"alloc"> {
  let summary = "A buffer of the function's arena";
  let description = [{
    A buffer whose token dimension (if dynamic) is sized for the function's `sl.max_tokens`.
    `sl-plan-buffers` sets `offset` and `bytes` (in the arena); buffers whose live ranges
    overlap never overlap in memory.

    ```mlir
    %b = slk.alloc {bytes = 2752512 : i64, offset = 0 : i64} : memref<?x2688xbf16>
    ```
  }];
  let arguments = (ins OptionalAttr<I64Attr>:$offset, OptionalAttr<I64Attr>:$bytes);
  let results = (outs AnyMemRef:$buffer);
  let assemblyFormat = "attr-dict `:` type($buffer)";
}

def SLK_WeightOp : SLK_Op<"weight", [Pure]> {
  let summary = "A checkpoint tensor bound by name";
  let description = [{
    ```mlir
    %w = slk.weight "backbone.layers.0.mixer.in_proj.weight" : memref<10304x2688xbf16>
    ```
    `ranges` / `checkpoint_shape`: the part of the tensor a rank binds, as on `sl.weight`.
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<DenseI64ArrayAttr>:$ranges,
                       OptionalAttr<DenseI64ArrayAttr>:$checkpoint_shape);
  let results = (outs AnyMemRef:$buffer);
  let assemblyFormat = "$name attr-dict `:` type($buffer)";
}

def SLK_ColumnSliceOp : SLK_Op<"column_slice", [Pure]> {
  let summary = "A view of consecutive columns of a row-major buffer";
  let description = [{
    Columns `[offset, offset + width)` of `source`, as a strided view (row stride = the
    source's row length). Kernels read it with a row-stride argument, so no copy is made.

    ```mlir
    %xbc = slk.column_slice %p {offset = 4096 : i64}
        : memref<?x10304xbf16> -> memref<?x6144xbf16, strided<[10304, 1], offset: 4096>>
    ```
  }];
  let arguments = (ins AnyMemRef:$source, I64Attr:$offset);
  let results = (outs AnyMemRef:$view);
  let assemblyFormat = "$source attr-dict `:` type($source) `->` type($view)";
  let hasVerifier = 1;
}

def SLK_AllReduceOp : SLK_Op<"all_reduce"> {
  let summary = "In-place sum of a buffer over the ranks (a collective launch)";
  let description = [{
    Replaces the token rows of `buffer` on every rank by their sum over the ranks (the
    artifact's `Launch.collective`); it runs in launch order with the kernels.

    ```mlir
    slk.all_reduce %b : memref<?x2688xbf16>
    ```
  }];
  let arguments = (ins AnyMemRef:$buffer);
  let assemblyFormat = "$buffer attr-dict `:` type($buffer)";
}

def SLK_LaunchOp : SLK_Op<"launch"> {
  let summary = "Launch of a kernel specialisation";
  let description = [{
    `args` lists the kernel's parameters in order. Each entry is one of:
    - `i : index` - a pointer to operand i (a buffer, a weight or a view);
    - `[i : index, "part"]` - a pointer to a part of state operand i (`"k"`, `"v"` of a KV
      cache, `"conv"`, `"ssm"` of a Mamba state) or to a host table of its multi-step config
      (`"anchor_offsets"`, `"num_stripes"`, `"span_reach"`);
    - `"n"` (i32: tokens of this call), `"start"` (i64: cache length before the call),
      `"cache_len"` (i64: after it), `"capacity"` (i64: positions the session reserved),
      `"null"`, `"error_flag"` - values the runtime supplies (the spellings of the artifact
      schema's StatePart and RuntimeValue enums, checked by the verifier);
    - a typed integer or float attribute - a constant (`2688 : i32`, `1.0e-05 : f32`).
    `grid` holds three extents, each three integers (mul, add, div) meaning
    ceil((mul * n + add) / div).

    `row_bytes` (optional, one integer per argument) marks a launch that computes the token rows
    of function outputs independently and feeds nothing else (the LM head of a prefill chunk):
    a caller that reads back only the last `r` rows lets the runtime run it for those alone
    (`"n"` and the grid take `r`, and a pointer argument with `row_bytes` > 0 starts `n - r`
    rows further on); 0 marks an argument that is not token rows.

    ```mlir
    slk.launch @rms_norm_bf16_h2688_t256(%x, %w, %y)
        {args = [0 : index, 1 : index, 2 : index, "n", 1.0e-05 : f32],
         grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>}
        : memref<?x2688xbf16>, memref<2688xbf16>, memref<?x2688xbf16>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$kernel, Variadic<AnyType>:$operands, ArrayAttr:$args,
                       DenseI64ArrayAttr:$grid, OptionalAttr<DenseI64ArrayAttr>:$row_bytes);
  let assemblyFormat = "$kernel `(` $operands `)` attr-dict `:` type($operands)";
  let hasVerifier = 1;
}

#endif // SLK_OPS_TD
