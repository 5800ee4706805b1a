#ifndef SL_PASSES_TD
#define SL_PASSES_TD

include "mlir/Pass/PassBase.td"

def SLShardGraph : Pass<"sl-shard-graph", "::mlir::ModuleOp"> {
  let summary = "The graph of one rank of a tensor-parallel model";
  let description = [{
    Rewrites the imported graph (after `canonicalize`, before `sl-fuse-epilogues`) into what
    rank `rank` of `world-size` computes (docs/parallel.md). Activations between blocks stay
    replicated. Mamba-2 layers keep the rank's heads: its rows of z, x and dt in `in_proj`, of B
    and C the rank's groups (`groups % N == 0`) or the one group its heads read (`N % groups ==
    0`; when its heads hold only part of a gated-norm group, the norm gets `shared_group` and its
    sum of squares is all-reduced); conv1d, A_log, D, dt_bias and the norm weight sliced to match; the state type with heads / N and the rank's groups; `out_proj` binds
    the columns of those heads. Attention and multi-step attention keep the rank's query heads
    (q and q1 rows) and the kv heads they read (split when `kv_heads % N == 0`, else the one
    shared kv head); `o_proj` its columns. The MLP and the shared expert keep rows of `up` and
    columns of `down`; routed experts their slice of the intermediate dimension (`up` rows,
    `down` columns of every expert); the router, embedding, norms and LM head stay replicated.
    Each block's output projection (for MoE: routed plus shared) is followed by one
    `sl.all_reduce` before the residual add. A shape that does not divide is an error naming
    the layer, the dimension and the world sizes that work. `world-size = 1` changes nothing.

    With `expert-parallel = M` (dividing the world size N) the routed experts are split too:
    rank r of group g = r / (N/M) binds experts `[g·E/M, (g+1)·E/M)` (a range along dimension
    0 of `up` and `down`), their intermediate dimension sliced by the N/M ranks of the group,
    and its `sl.moe_experts` gets `expert_offset = g·E/M`: it skips the pairs routed to other
    groups. The router stays replicated; the partial sums join the block's one all-reduce.

    Before (world-size 2, rank 1):
    ```mlir
    %wo = sl.weight "layers.3.mixer.o_proj.weight" : tensor<64x64xf32>
    %o = sl.linear %a, %wo : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    %h1 = sl.add %h0, %o : tensor<?x64xf32>
    ```
    After:
    ```mlir
    %wo = sl.weight "layers.3.mixer.o_proj.weight"
        {checkpoint_shape = array<i64: 64, 64>, ranges = array<i64: 1, 32, 32>}
        : tensor<64x32xf32>
    %o = sl.linear %a, %wo : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
    %s = sl.all_reduce %o : tensor<?x64xf32>
    %h1 = sl.add %h0, %s : tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"rank", "rank", "int64_t", /*default=*/"0", "The rank whose graph to produce">,
    Option<"worldSize", "world-size", "int64_t", /*default=*/"1",
           "Number of ranks (slc compile --tensor-parallel)">,
    Option<"expertParallel", "expert-parallel", "int64_t", /*default=*/"1",
           "Expert groups (slc compile --expert-parallel), dividing world-size: rank r holds "
           "the routed experts of group r / (world-size / expert-parallel)">
  ];
  let dependentDialects = ["::mlir::sl::SLDialect"];
}

def SLFuseEpilogues : Pass<"sl-fuse-epilogues", "::mlir::func::FuncOp"> {
  let summary = "Fold activations and residual adds into the epilogues of their producers";
  let description = [{
    Folds an `sl.activation` of a single-use `sl.linear` into the linear's `activation`, and an
    `sl.add` of a single-use `sl.linear` into its `residual`; folds the adds after
    `sl.moe_experts` (the shared expert's output, then the residual stream) into its `shared`
    and `residual` operands; folds an `sl.rms_norm` whose every user is a projection's input
    into those projections' `norm` (the q/k/v/q1 projections of an attention layer, the
    in_proj of a Mamba layer). Each fold removes one full read and write of an activation. The
    MoE router needs no fusion: `sl.moe_router` already includes its gate projection.

    Before:
    ```mlir
    %a = sl.linear %x, %w1 : (...) -> tensor<?x64xbf16>
    %b = sl.activation relu2 %a : tensor<?x64xbf16>
    %c = sl.linear %b, %w2 : (...) -> tensor<?x64xbf16>
    %h1 = sl.add %h0, %c : tensor<?x64xbf16>
    ```
    After:
    ```mlir
    %a = sl.linear %x, %w1 activation(relu2) : (...) -> tensor<?x64xbf16>
    %h1 = sl.linear %a, %w2 residual(%h0) : (...) -> tensor<?x64xbf16>
    ```
  }];
  let dependentDialects = ["::mlir::sl::SLDialect"];
}

def SLSpecializePhases : Pass<"sl-specialize-phases", "::mlir::ModuleOp"> {
  let summary = "Clone the model function into a prefill-chunk and a fixed-shape decode step";
  let description = [{
    Replaces the model function (`forward`) by two functions:
    - `prefill`: the same graph, for chunks of up to `prefill-chunk` tokens (the token dimension
      stays dynamic; `sl.max_tokens` records the bound the buffers are planned for);
    - `decode`: one token, every token dimension fixed to 1, so the runtime can capture the step
      once in a CUDA graph and replay it.
    Both carry `sl.phase` and `sl.max_tokens`. Any other function (e.g. a hand-written test of
    one op) keeps its name and gets `sl.phase = "function"`, planned for `prefill-chunk` tokens.

    Before:
    ```mlir
    func.func @forward(%tokens: tensor<?xi32>, %c: !kv_cache) -> (tensor<?x256xf32>, !kv_cache)
    ```
    After:
    ```mlir
    func.func @prefill(%tokens: tensor<?xi32>, %c: !kv_cache) -> (tensor<?x256xf32>, !kv_cache)
        attributes {sl.max_tokens = 4096 : i64, sl.phase = "prefill"}
    func.func @decode(%tokens: tensor<1xi32>, %c: !kv_cache) -> (tensor<1x256xf32>, !kv_cache)
        attributes {sl.max_tokens = 1 : i64, sl.phase = "decode"}
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"forward\"",
           "Name of the model function to specialise">,
    Option<"prefillChunk", "prefill-chunk", "int64_t", /*default=*/"4096",
           "Largest number of tokens one prefill call processes">
  ];
  let dependentDialects = ["::mlir::sl::SLDialect"];
}

def SLSelectTiles : Pass<"sl-select-tiles", "::mlir::ModuleOp"> {
  let summary = "Choose the kernel template and tile parameters of every tiled op";
  let description = [{
    For each op lowered to a tiled kernel (projections, MoE experts, attention, SSD, multi-step
    attention) picks the kernel template and its tile parameters for `target`. The fastest
    record of the tuning database (`tuning-db`, JSON lines written by sltune) whose kernel,
    target and shape bucket match wins; otherwise the documented heuristics of docs/pipeline.md
    apply. The choice is visible as attributes: `sl.kernel`, `sl.tiles` and `sl.tile_source`
    (`heuristic` or `<database>:<line>`). The bucket of a projection is its token capacity
    rounded up to a power of two (`m`), its out/in features (`n`, `k`) and dtype.

    Before:
    ```mlir
    %y = sl.linear %x, %w : (tensor<?x2688xbf16>, tensor<10304x2688xbf16>) -> tensor<?x10304xbf16>
    ```
    After (in a prefill function with sl.max_tokens = 4096; target sm_90a: the Hopper GEMM,
    other targets get `gemm` with its mma.sync tiles):
    ```mlir
    %y = sl.linear %x, %w {sl.kernel = "gemm_wgmma", sl.tile_source = "heuristic",
        sl.tiles = {bm = 128 : i64, bn = 256 : i64, stages = 4 : i64}} : (...) -> tensor<?x10304xbf16>
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"sm_90a\"",
           "GPU target the tiles are chosen for">,
    Option<"tuningDb", "tuning-db", "std::string", /*default=*/"\"\"",
           "Tuning database (JSON lines); empty: heuristics only">
  ];
  let dependentDialects = ["::mlir::sl::SLDialect"];
}

def SLBuildTuningSweep : Pass<"sl-build-tuning-sweep", "::mlir::ModuleOp"> {
  let summary = "Replace the model by one function per tile problem and candidate tiles";
  let description = [{
    The input of sltune (`slc compile --tuning-sweep`, docs/tuning.md). Finds the distinct tile
    problems of the specialised functions (kernel template and tuning bucket, as
    `sl-select-tiles` computes them for `target`; the same bucket in many layers is one
    problem) and, for each, emits one function per candidate of `tileCandidates`: the op alone
    with its weights (a MoE op with its router, so that it runs on real routing), its other
    tensor operands as inputs, its results as outputs, and every state of the model function
    in order (all functions share the model's state slots). The op carries its candidate as
    `sl.kernel` / `sl.tiles`; `sl.tile_source` is `heuristic` for the heuristic's choice (the
    reference the others are checked against) and `sweep` otherwise. Candidates that
    `sl-check-kernel-shapes` would refuse are dropped. The model functions are erased. Each new
    function carries `sl.phase = "sweep"`, the `sl.max_tokens` of the function the op came from,
    and `sl.tuning_case` (kernel, bucket, params, heuristic, flops and weight bytes of one call),
    which the artifact keeps as the plan's tuning cases.

    Before (prefill, 4096 tokens):
    ```mlir
    %4 = sl.weight "backbone.layers.0.mixer.in_proj.weight" : tensor<10304x2688xbf16>
    %5 = sl.linear %3, %4 : (tensor<?x2688xbf16>, tensor<10304x2688xbf16>) -> tensor<?x10304xbf16>
    ```
    After (one of the candidates):
    ```mlir
    func.func @sweep_0_1(%x: tensor<?x2688xbf16>, %s: !mamba_state) -> (tensor<?x10304xbf16>, !mamba_state)
        attributes {sl.max_tokens = 4096 : i64, sl.phase = "sweep", sl.tuning_case = {
          bucket = {dtype = "bf16", k = "2688", m = "4096", n = "10304"}, bytes = 5.5e7 : f64,
          flops = 2.27e11 : f64, heuristic = false, kernel = "gemm_wgmma",
          params = {bm = 64 : i64, bn = 128 : i64, stages = 3 : i64}}} {
      %w = sl.weight "backbone.layers.0.mixer.in_proj.weight" : tensor<10304x2688xbf16>
      %y = sl.linear %x, %w {sl.kernel = "gemm_wgmma", sl.tile_source = "sweep",
          sl.tiles = {bm = 64 : i64, bn = 128 : i64, stages = 3 : i64}} : (...) -> tensor<?x10304xbf16>
      return %y, %s : tensor<?x10304xbf16>, !mamba_state
    }
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"sm_90a\"",
           "GPU target the candidates are chosen for">
  ];
  let dependentDialects = ["::mlir::sl::SLDialect"];
}

def SLCheckKernelShapes : Pass<"sl-check-kernel-shapes", "::mlir::ModuleOp"> {
  let summary = "Refuse shapes and tile choices the CUDA kernel library does not support";
  let description = [{
    Checks every op's shapes and the tiles of `sl-select-tiles` (`sl.kernel`, `sl.tiles`, also
    when they come from a tuning database) against the limits of the kernel library
    (`runtime/kernels/*.cuh`: its static_asserts, documented requirements and shared-memory
    sizes) for the templates `sl-lower-to-slk` will instantiate. Each violation is an error at
    the op naming the dimension or tile, its value and the supported range
    (docs/model-family.md lists them), so that no static_assert fires inside NVRTC and no
    kernel runs on a shape it computes wrongly. The IR is not changed.

    Refused:
    ```mlir
    // error: 'sl.dense_attention' op head_dim is 24; the attention kernels support head_dim
    //        a multiple of 16, at most 256
    %o, %c1 = sl.dense_attention %q, %k, %v, %c0 {num_heads = 4 : i64, sl.kernel = "attention_prefill",
        sl.tile_source = "heuristic", sl.tiles = {bm = 64 : i64, bn = 64 : i64}}
        : (tensor<?x96xbf16>, tensor<?x48xbf16>, tensor<?x48xbf16>,
           !sl.kv_cache<kv_heads = 2, head_dim = 24, element_type = bf16>) -> (...)
    // error: 'sl.linear' op tile bk of the gemm kernel is 24 (chosen by tuning.jsonl:1); the
    //        gemm kernel supports bk a multiple of 16
    %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tile_source = "tuning.jsonl:1",
        sl.tiles = {bk = 24 : i64, bm = 64 : i64, bn = 64 : i64, stages = 3 : i64,
                    warps_m = 2 : i64, warps_n = 2 : i64}} : (...) -> tensor<?x64xbf16>
    ```
  }];
  let dependentDialects = ["::mlir::sl::SLDialect"];
}

def SLLowerToSLK : Pass<"sl-lower-to-slk", "::mlir::ModuleOp"> {
  let summary = "Lower specialised sl functions to slk kernel launches over buffers";
  let description = [{
    Turns every function of `sl-specialize-phases` into `slk.launch`es of kernel-library
    specialisations (declared once each as `slk.kernel`), with `slk.alloc` buffers for the
    values in flight, `slk.weight` bindings and `slk.column_slice` views for `sl.split`.
    Tensor arguments and results become memrefs; KV caches and Mamba states stay arguments and
    are updated in place (their results disappear). Every launch argument follows the template
    signature of docs/kernels*.md; the tiles come from `sl-select-tiles`.

    Before:
    ```mlir
    %y = sl.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
    ```
    After:
    ```mlir
    slk.kernel @rms_norm_bf16_wbf16_h64_t64 {template_name = "rms_norm", ...}
    %y = slk.alloc : memref<?x64xbf16>
    slk.launch @rms_norm_bf16_wbf16_h64_t64(%x, %w, %y)
        {args = [0 : index, 1 : index, 2 : index, "n", 9.99999974E-6 : f32],
         grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>}
        : memref<?x64xbf16>, memref<64xbf16>, memref<?x64xbf16>
    ```
  }];
  let dependentDialects = ["::mlir::sl::SLDialect", "::mlir::slk::SLKDialect"];
}

def SLPlanBuffers : Pass<"sl-plan-buffers", "::mlir::ModuleOp"> {
  let summary = "Place every slk.alloc in one arena per function by liveness";
  let description = [{
    Sizes each `slk.alloc` for the function's `sl.max_tokens` (dynamic token dimension), takes
    its live range from the launch order (from the alloc to its last use, a view's uses
    included; returned buffers live to the end) and places it with the greedy best-fit planner
    (compiler/ArenaPlanner.h): buffers live at the same time never overlap, dead ones are
    reused. Sets `offset` and `bytes` on every alloc and `slk.arena_bytes` on the function.
    KV caches and Mamba states are session-owned and not in the arena.

    Before:
    ```mlir
    %a = slk.alloc : memref<?x64xbf16>
    %b = slk.alloc : memref<?x64xbf16>
    ```
    After (sl.max_tokens = 64):
    ```mlir
    %a = slk.alloc {bytes = 8192 : i64, offset = 0 : i64} : memref<?x64xbf16>
    %b = slk.alloc {bytes = 8192 : i64, offset = 8192 : i64} : memref<?x64xbf16>
    ```
  }];
  let dependentDialects = ["::mlir::slk::SLKDialect"];
}

def SLEmitCuda : Pass<"sl-emit-cuda", "::mlir::ModuleOp"> {
  let summary = "Emit the CUDA C++ source of every kernel specialisation";
  let description = [{
    Sets `source` on every `slk.kernel`: an `extern "C" __global__` wrapper, named after the
    specialisation, that includes the template's library header and calls the template with the
    kernel's template arguments. `slc compile` then checks every source with NVRTC for every
    target and ships sources and library headers in the artifact.

    Before:
    ```mlir
    slk.kernel @argmax_t256 {header = "sl_sample.cuh", smem = 0 : i64,
        template_args = ["256"], template_name = "argmax", threads = 256 : i64}
    ```
    After:
    ```mlir
    slk.kernel @argmax_t256 {..., source = "#include \"sl_sample.cuh\"\n\nextern \"C\" __global__
        void __launch_bounds__(256)\nargmax_t256(const float * logits, slk::i32 * out, ...) {
        slk::argmax<256>(logits, out, n, vocab);\n}\n", ...}
    ```
  }];
  let dependentDialects = ["::mlir::slk::SLKDialect"];
}

#endif // SL_PASSES_TD
