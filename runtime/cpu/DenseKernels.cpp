// CPU reference of the dense and MoE templates: sl_norm.cuh, sl_gemm.cuh, sl_embedding.cuh,
// sl_sample.cuh, sl_elementwise.cuh, sl_moe.cuh (docs/kernels-dense.md, docs/kernels-moe.md).
//
// Every value is rounded to T exactly where the device rounds it; dot products and norm
// statistics are summed in double (products of fp32 values are exact in double), so the only
// difference to the device is the summation order of those sums (well below one ulp of T).
// Arguments are read by the parameter names of the kernel table (runtime/kernels/KernelTable.h); tile
// parameters are ignored except moe_align's BM, which defines the padded row layout that
// moe_up / moe_down read.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"
#include "runtime/cpu/KernelPlumbing.h"
#include "runtime/kernels/KernelTable.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>

namespace sl::cpu {
namespace {

// ---------------------------------------------------------------------------------------------
// Reading a call: template and run-time arguments by parameter name. Anything invalid
// throws KernelError; guarded() turns it into a Status naming the template.
// ---------------------------------------------------------------------------------------------
struct KernelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &message) { throw KernelError(message); }

class Launch {
public:
  explicit Launch(const KernelCall &call) : call_(call) {}

  // Binds the call to template `name` of the kernel table and checks the argument counts
  // against it; call first.
  void expect(const char *name) {
    name_ = name;
    try {
      args_.emplace(name_, call_);
    } catch (const std::invalid_argument &e) {
      fail(e.what());
    }
  }
  const std::string &name() const { return name_; }

  Elem elem(const char *param) const {
    const std::string &spelling = templateArg(param);
    if (spelling != "slk::bf16" && spelling != "float")
      fail(std::string("template parameter ") + param + ": unsupported element type '" + spelling +
           "' (expected slk::bf16 or float)");
    return elemOf(spelling);
  }
  // A positive integer template argument (sizes, TOPK, BM).
  int64_t dim(const char *param) const {
    const std::string &spelling = templateArg(param);
    std::optional<int64_t> value = kernels::parseInteger(spelling);
    if (!value || *value <= 0)
      fail(std::string("template parameter ") + param + ": expected a positive integer, got '" +
           spelling + "'");
    return *value;
  }
  bool flag(const char *param) const {
    const std::string &spelling = templateArg(param);
    if (spelling != "true" && spelling != "false")
      fail(std::string("template parameter ") + param + ": expected true or false, got '" +
           spelling + "'");
    return spelling == "true";
  }
  // An activation spelling, validated; evaluate with Elements.h's activate().
  const std::string &act(const char *param) const {
    const std::string &spelling = templateArg(param);
    if (spelling != "slk::kActNone" && spelling != "slk::kActSilu" && spelling != "slk::kActRelu2")
      fail(std::string("template parameter ") + param + ": unknown activation '" + spelling + "'");
    return spelling;
  }

  // A pointer argument that must be present.
  template <typename P = void> P *ptr(const char *param) const {
    void *p = arg(param).pointer;
    if (p == nullptr)
      fail(std::string("argument ") + param + " is null");
    return static_cast<P *>(p);
  }
  // A pointer argument that may be absent (null).
  template <typename P = void> P *optionalPtr(const char *param) const {
    return static_cast<P *>(arg(param).pointer);
  }
  int64_t integer(const char *param) const { return arg(param).integer; }
  // An integer argument that must be >= 0 (token counts, sizes, strides).
  int64_t count(const char *param) const {
    int64_t v = arg(param).integer;
    if (v < 0)
      fail(std::string("argument ") + param + " is negative (" + std::to_string(v) + ")");
    return v;
  }
  float real(const char *param) const { return arg(param).real; }

private:
  // By the parameter names of the kernel table (runtime/kernels/KernelTable.h).
  const std::string &templateArg(const char *param) const {
    try {
      return bound().templateArg(param);
    } catch (const std::invalid_argument &e) {
      fail(e.what());
    }
  }
  const KernelArg &arg(const char *param) const {
    try {
      return bound().arg(param);
    } catch (const std::invalid_argument &e) {
      fail(e.what());
    }
  }
  const Args &bound() const {
    if (!args_)
      fail("arguments read before expect()");
    return *args_;
  }

  const KernelCall &call_;
  std::string name_ = "kernel";
  std::optional<Args> args_;
};

template <void (*Run)(Launch &)> Status guarded(const KernelCall &call) {
  Launch launch(call);
  try {
    Run(launch);
  } catch (const std::exception &e) {
    return Status::error("cpu kernel " + launch.name() + ": " + e.what());
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// Helpers: rows of fp32 values, threads, dot products.
// ---------------------------------------------------------------------------------------------
void loadRow(Elem elem, const void *base, int64_t offset, int64_t count, float *dst) {
  if (elem == Elem::f32) {
    std::memcpy(dst, static_cast<const float *>(base) + offset, size_t(count) * sizeof(float));
    return;
  }
  const uint16_t *src = static_cast<const uint16_t *>(base) + offset;
  for (int64_t i = 0; i < count; ++i)
    dst[i] = bf16ToFloat(src[i]);
}

size_t elemSize(Elem elem) { return elem == Elem::bf16 ? 2 : 4; }

// Rows [r0, r1) of a row-parallel kernel, on the shared pool (plumbing::parallelFor), one row
// (or block of rows) per item.
template <typename Body> void parallelFor(int64_t count, int64_t costPerItem, Body &&body) {
  plumbing::parallelFor(count, std::max<int64_t>(costPerItem, 1),
                        [&](int64_t i) { body(i, i + 1); });
}

// Rows of an operand: row r has k elements starting at element offsets[r] of base.
struct Rows {
  Elem elem;
  const void *base;
  std::vector<int64_t> offsets;
};

Rows stridedRows(Elem elem, const void *base, int64_t count, int64_t ld) {
  Rows rows{elem, base, std::vector<int64_t>(size_t(count))};
  for (int64_t r = 0; r < count; ++r)
    rows.offsets[size_t(r)] = r * ld;
  return rows;
}

// sink(r, j, dot) for every row r of `a` and weight row j < cols, dot = sum_k a_r[k]·w_j[k]
// in double; weight row j is the k elements at wOffset + j·k of w (checkpoint [out, in]).
// Threads split the weight rows; sink is called concurrently for distinct (r, j).
template <typename Sink>
void dotProducts(const Rows &a, Elem wElem, const void *w, int64_t wOffset, int64_t cols, int64_t k,
                 Sink &&sink) {
  const int64_t rows = int64_t(a.offsets.size());
  if (rows == 0 || cols == 0)
    return;
  std::vector<float> af(static_cast<size_t>(rows * k));
  for (int64_t r = 0; r < rows; ++r)
    loadRow(a.elem, a.base, a.offsets[size_t(r)], k, af.data() + r * k);
  constexpr int64_t kBlock = 16; // weight rows converted and kept hot together
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  parallelFor(blocks, kBlock * rows * k, [&](int64_t b0, int64_t b1) {
    std::vector<float> wf(static_cast<size_t>(kBlock * k));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t j0 = b * kBlock, j1 = std::min(cols, j0 + kBlock);
      for (int64_t j = j0; j < j1; ++j)
        loadRow(wElem, w, wOffset + j * k, k, wf.data() + (j - j0) * k);
      for (int64_t r = 0; r < rows; ++r) {
        const float *ar = af.data() + r * k;
        for (int64_t j = j0; j < j1; ++j) {
          const float *wr = wf.data() + (j - j0) * k;
          double acc = 0.0;
          for (int64_t q = 0; q < k; ++q)
            acc += double(ar[q]) * double(wr[q]);
          sink(r, j, acc);
        }
      }
    }
  });
}

// fl(a·b) and fl(a + b) in fp32 with no FMA contraction (the device's __fmul_rn / __fadd_rn):
// the double product of two floats is exact, so rounding it to float is the fp32 product.
float mulRn(float a, float b) { return float(double(a) * double(b)); }
float addRn(float a, float b) { return float(double(a) + double(b)); }

// ---------------------------------------------------------------------------------------------
// Norms (sl_norm.cuh): y = T(weight · T(x · rstd)), rstd = rsqrt(mean(x²) + eps) in fp32.
// ---------------------------------------------------------------------------------------------
float rstdOf(const float *v, int64_t count, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < count; ++i)
    ss += double(v[i]) * double(v[i]);
  const float mean = float(ss / double(count));
  return float(1.0 / std::sqrt(double(mean + eps)));
}

// out[i] = T(weight[i] · T(v[i] · rstd)).
void normalize(Elem t, Elem wt, const float *v, int64_t count, float rstd, const void *weight,
               int64_t weightOffset, void *out, int64_t outOffset) {
  for (int64_t i = 0; i < count; ++i) {
    const float normed = roundTo(t, v[i] * rstd);
    store(t, out, outOffset + i, load(wt, weight, weightOffset + i) * normed);
  }
}

// rms_norm<T, WT, HIDDEN, THREADS>(x, weight, y, n, eps) and add_rms_norm<T, WT, HIDDEN,
// THREADS>(x, residual, sum, weight, y, n, eps): sum = T(x + residual), y = rms_norm(sum).
// Each row is read completely before it is written, so y / sum may alias x / residual.
void runRmsNormImpl(Launch &L, bool add) {
  L.expect(add ? "add_rms_norm" : "rms_norm");
  const Elem t = L.elem("T"), wt = L.elem("WT");
  const int64_t hidden = L.dim("HIDDEN");
  const int64_t n = L.count("n");
  if (n == 0)
    return;
  const void *x = L.ptr("x");
  const void *residual = add ? L.ptr("residual") : nullptr;
  void *sum = add ? L.ptr("sum") : nullptr;
  const void *weight = L.ptr("weight");
  void *y = L.ptr("y");
  const float eps = L.real("eps");
  parallelFor(n, 4 * hidden, [&](int64_t r0, int64_t r1) {
    std::vector<float> v(static_cast<size_t>(hidden)), res(static_cast<size_t>(hidden));
    for (int64_t row = r0; row < r1; ++row) {
      const int64_t off = row * hidden;
      loadRow(t, x, off, hidden, v.data());
      if (add) {
        loadRow(t, residual, off, hidden, res.data());
        for (int64_t i = 0; i < hidden; ++i)
          v[size_t(i)] = roundTo(t, v[size_t(i)] + res[size_t(i)]);
        for (int64_t i = 0; i < hidden; ++i)
          store(t, sum, off + i, v[size_t(i)]);
      }
      normalize(t, wt, v.data(), hidden, rstdOf(v.data(), hidden, eps), weight, 0, y, off);
    }
  });
}
void runRmsNorm(Launch &L) { runRmsNormImpl(L, false); }
void runAddRmsNorm(Launch &L) { runRmsNormImpl(L, true); }

// h = y · silu(gate) of one row, in fp32 (the gated norms' input).
void gatedRow(Elem t, const void *y, int64_t yOffset, const void *gate, int64_t gateOffset,
              int64_t channels, std::vector<float> &yv, std::vector<float> &gv, float *h) {
  loadRow(t, y, yOffset, channels, yv.data());
  loadRow(t, gate, gateOffset, channels, gv.data());
  for (int64_t c = 0; c < channels; ++c)
    h[c] = yv[size_t(c)] * activate("slk::kActSilu", gv[size_t(c)]);
}

// gated_rms_norm<T, WT, CHANNELS, GROUP, THREADS>(y, ldy, gate, ldg, weight, out, n, eps):
// per group of GROUP channels, h = y · silu(gate) in fp32, out = T(weight · T(h · rstd_group));
// y and gate are strided views, out is contiguous [n, CHANNELS].
void runGatedRmsNorm(Launch &L) {
  L.expect("gated_rms_norm");
  const Elem t = L.elem("T"), wt = L.elem("WT");
  const int64_t channels = L.dim("CHANNELS"), group = L.dim("GROUP");
  if (channels % group != 0)
    fail("CHANNELS (" + std::to_string(channels) + ") must be a multiple of GROUP (" +
         std::to_string(group) + ")");
  const int64_t n = L.count("n");
  if (n == 0)
    return;
  const void *y = L.ptr("y");
  const int64_t ldy = L.count("ldy");
  const void *gate = L.ptr("gate");
  const int64_t ldg = L.count("ldg");
  const void *weight = L.ptr("weight");
  void *out = L.ptr("out");
  const float eps = L.real("eps");
  if (n > 1 && (ldy < channels || ldg < channels))
    fail("ldy / ldg must be >= CHANNELS");
  parallelFor(n, 8 * channels, [&](int64_t r0, int64_t r1) {
    std::vector<float> yv(static_cast<size_t>(channels)), gv(static_cast<size_t>(channels)),
        h(static_cast<size_t>(channels));
    for (int64_t row = r0; row < r1; ++row) {
      gatedRow(t, y, row * ldy, gate, row * ldg, channels, yv, gv, h.data());
      for (int64_t g0 = 0; g0 < channels; g0 += group) {
        const float rstd = rstdOf(h.data() + g0, group, eps);
        normalize(t, wt, h.data() + g0, group, rstd, weight, g0, out, row * channels + g0);
      }
    }
  });
}

// gated_sum_squares<T, CHANNELS, GROUP, THREADS>(y, ldy, gate, ldg, sums, lds, first, n) and
// gated_rms_norm_sums<T, WT, CHANNELS, GROUP, THREADS>(y, ldy, gate, ldg, weight, sums, lds,
// first, out, n, eps, count): the gated norm of a group split over ranks (sl_norm.cuh); the sums
// are all-reduced between the two.
void runGatedSumSquares(Launch &L) {
  L.expect("gated_sum_squares");
  const Elem t = L.elem("T");
  const int64_t channels = L.dim("CHANNELS"), group = L.dim("GROUP");
  const int64_t n = L.count("n"), lds = L.count("lds"), first = L.count("first");
  if (channels % group != 0 || first < 0 || first + channels / group > lds)
    fail("CHANNELS / GROUP groups from column first must fit the lds columns of sums");
  if (n == 0)
    return;
  const void *y = L.ptr("y");
  const int64_t ldy = L.count("ldy");
  const void *gate = L.ptr("gate");
  const int64_t ldg = L.count("ldg");
  float *sums = static_cast<float *>(L.ptr("sums"));
  parallelFor(n, 8 * channels, [&](int64_t r0, int64_t r1) {
    std::vector<float> yv(static_cast<size_t>(channels)), gv(static_cast<size_t>(channels)),
        h(static_cast<size_t>(channels));
    for (int64_t row = r0; row < r1; ++row) {
      gatedRow(t, y, row * ldy, gate, row * ldg, channels, yv, gv, h.data());
      for (int64_t c = 0; c < lds; ++c)
        sums[row * lds + c] = 0.0f;
      for (int64_t g = 0; g < channels / group; ++g) {
        double ss = 0.0;
        for (int64_t c = g * group; c < (g + 1) * group; ++c)
          ss += double(h[size_t(c)]) * double(h[size_t(c)]);
        sums[row * lds + first + g] = float(ss);
      }
    }
  });
}

void runGatedRmsNormSums(Launch &L) {
  L.expect("gated_rms_norm_sums");
  const Elem t = L.elem("T"), wt = L.elem("WT");
  const int64_t channels = L.dim("CHANNELS"), group = L.dim("GROUP");
  const int64_t n = L.count("n"), lds = L.count("lds"), first = L.count("first");
  const int64_t count = L.count("count");
  if (channels % group != 0 || first < 0 || first + channels / group > lds || count < group)
    fail("CHANNELS / GROUP groups from column first must fit the lds columns of sums, and "
         "count must be at least GROUP");
  if (n == 0)
    return;
  const void *y = L.ptr("y");
  const int64_t ldy = L.count("ldy");
  const void *gate = L.ptr("gate");
  const int64_t ldg = L.count("ldg");
  const void *weight = L.ptr("weight");
  const float *sums = static_cast<const float *>(L.ptr("sums"));
  void *out = L.ptr("out");
  const float eps = L.real("eps");
  parallelFor(n, 8 * channels, [&](int64_t r0, int64_t r1) {
    std::vector<float> yv(static_cast<size_t>(channels)), gv(static_cast<size_t>(channels)),
        h(static_cast<size_t>(channels));
    for (int64_t row = r0; row < r1; ++row) {
      gatedRow(t, y, row * ldy, gate, row * ldg, channels, yv, gv, h.data());
      for (int64_t g = 0; g < channels / group; ++g) {
        const float mean = float(double(sums[row * lds + first + g]) / double(count));
        const float rstd = float(1.0 / std::sqrt(double(mean + eps)));
        normalize(t, wt, h.data() + g * group, group, rstd, weight, g * group, out,
                  row * channels + g * group);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Linear layers (sl_gemm.cuh): c = act(a·w^T + bias) + residual, epilogue
// v = T(acc + bias); v = T(act(v)); v = v + residual (fp32); stored as OUT_T.
// ---------------------------------------------------------------------------------------------
// c[i, j] = epilogue(a_i · w_j) for every row of `a` and j < n.
void linearRows(const Rows &a, Elem t, Elem outT, const std::string &act, const void *w,
                const void *bias, const void *residual, void *c, int64_t ldc, int64_t n,
                int64_t k) {
  dotProducts(a, t, w, 0, n, k, [&](int64_t i, int64_t j, double dot) {
    float v = float(dot + (bias ? double(load(t, bias, j)) : 0.0));
    v = roundTo(t, v);
    if (act != "slk::kActNone")
      v = roundTo(t, activate(act, v));
    if (residual)
      v += load(t, residual, i * ldc + j);
    store(outT, c, i * ldc + j, v);
  });
}

// gemm<T, OUT_T, BM, BN, BK, STAGES, WARPS_M, WARPS_N, ACT, HAS_BIAS, HAS_RESIDUAL>,
// gemm_wgmma<T, OUT_T, BM, BN, STAGES, ACT, HAS_BIAS, HAS_RESIDUAL> (tiles do not change the
// result), gemv<T, OUT_T, WARPS, MAX_M, ACT, HAS_BIAS, HAS_RESIDUAL>.
void runLinear(Launch &L, const char *kernel) {
  L.expect(kernel);
  const bool gemv = std::string(kernel) == "gemv";
  const Elem t = L.elem("T"), outT = L.elem("OUT_T");
  const std::string &act = L.act("ACT");
  const bool hasBias = L.flag("HAS_BIAS"), hasResidual = L.flag("HAS_RESIDUAL");
  const int64_t m = L.count("m"), n = L.count("n"), k = L.count("k");
  if (gemv && m > L.dim("MAX_M"))
    fail("m = " + std::to_string(m) + " exceeds MAX_M = " + std::to_string(L.dim("MAX_M")));
  if (m == 0 || n == 0)
    return;
  const void *a = L.ptr("a");
  const int64_t lda = L.count("lda");
  const void *w = L.ptr("w");
  const void *bias = hasBias ? L.ptr("bias") : nullptr;
  const void *residual = hasResidual ? L.ptr("residual") : nullptr;
  void *c = L.ptr("c");
  const int64_t ldc = L.count("ldc");
  if (m > 1 && (lda < k || ldc < n))
    fail("lda must be >= k and ldc >= n (lda " + std::to_string(lda) + ", k " + std::to_string(k) +
         ", ldc " + std::to_string(ldc) + ", n " + std::to_string(n) + ")");
  linearRows(stridedRows(t, a, m, lda), t, outT, act, w, bias, residual, c, ldc, n, k);
}
void runGemm(Launch &L) { runLinear(L, "gemm"); }
void runGemmWgmma(Launch &L) { runLinear(L, "gemm_wgmma"); }
void runGemv(Launch &L) { runLinear(L, "gemv"); }

// gemv_rmsnorm<T, WT, OUT_T, WARPS, MAX_M, ACT, HAS_BIAS, HAS_RESIDUAL>(a, lda, norm_weight, eps,
// w, bias, residual, c, ldc, m, n, k): the rows of a normalised as rms_norm does, then gemv.
void runGemvRmsNorm(Launch &L) {
  L.expect("gemv_rmsnorm");
  const Elem t = L.elem("T"), wt = L.elem("WT"), outT = L.elem("OUT_T");
  const std::string &act = L.act("ACT");
  const bool hasBias = L.flag("HAS_BIAS"), hasResidual = L.flag("HAS_RESIDUAL");
  const int64_t m = L.count("m"), n = L.count("n"), k = L.count("k");
  if (m > L.dim("MAX_M"))
    fail("m = " + std::to_string(m) + " exceeds MAX_M = " + std::to_string(L.dim("MAX_M")));
  if (m == 0 || n == 0)
    return;
  const void *a = L.ptr("a");
  const int64_t lda = L.count("lda");
  const void *normWeight = L.ptr("norm_weight");
  const float eps = L.real("eps");
  const void *w = L.ptr("w");
  const void *bias = hasBias ? L.ptr("bias") : nullptr;
  const void *residual = hasResidual ? L.ptr("residual") : nullptr;
  void *c = L.ptr("c");
  const int64_t ldc = L.count("ldc");
  if (m > 1 && (lda < k || ldc < n))
    fail("lda must be >= k and ldc >= n");
  std::vector<uint8_t> normed(size_t(m * k) * elemSize(t));
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = 0; r < m; ++r) {
    loadRow(t, a, r * lda, k, row.data());
    normalize(t, wt, row.data(), k, rstdOf(row.data(), k, eps), normWeight, 0, normed.data(),
              r * k);
  }
  linearRows(stridedRows(t, normed.data(), m, k), t, outT, act, w, bias, residual, c, ldc, n, k);
}

// ---------------------------------------------------------------------------------------------
// embedding<T, HIDDEN, THREADS>(tokens, table, out, n, vocab, error): out[i] = table[tokens[i]];
// a bad id writes a zero row and records i + 1 in *error if it is still 0 (here: the first bad
// index, the device records any of them); the call then fails.
// ---------------------------------------------------------------------------------------------
void runEmbedding(Launch &L) {
  L.expect("embedding");
  const Elem t = L.elem("T");
  const int64_t hidden = L.dim("HIDDEN");
  const int64_t n = L.count("n"), vocab = L.count("vocab");
  if (n == 0)
    return;
  const int32_t *tokens = L.ptr<const int32_t>("tokens");
  const char *table = L.ptr<const char>("table");
  char *out = L.ptr<char>("out");
  int32_t *error = L.optionalPtr<int32_t>("error");
  const size_t rowBytes = size_t(hidden) * elemSize(t);
  int64_t firstBad = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = tokens[i];
    char *dst = out + size_t(i) * rowBytes;
    if (id >= 0 && id < vocab) {
      std::memcpy(dst, table + size_t(id) * rowBytes, rowBytes);
    } else {
      std::memset(dst, 0, rowBytes);
      if (firstBad < 0)
        firstBad = i;
    }
  }
  if (firstBad >= 0) {
    if (error != nullptr && *error == 0)
      *error = int32_t(firstBad + 1);
    fail("token id " + std::to_string(tokens[firstBad]) + " at index " + std::to_string(firstBad) +
         " is outside [0, " + std::to_string(vocab) + ")");
  }
}

// ---------------------------------------------------------------------------------------------
// argmax<THREADS>(logits, out, n, vocab): larger wins, NaN beats every number (first NaN wins),
// ties -> lowest index; a row of -inf (or vocab 0) gives 0.
// ---------------------------------------------------------------------------------------------
void runArgmax(Launch &L) {
  L.expect("argmax");
  const int64_t n = L.count("n"), vocab = L.count("vocab");
  if (n == 0)
    return;
  const float *logits = L.ptr<const float>("logits");
  int32_t *out = L.ptr<int32_t>("out");
  parallelFor(n, vocab, [&](int64_t r0, int64_t r1) {
    for (int64_t row = r0; row < r1; ++row) {
      const float *lr = logits + row * vocab;
      int64_t best = 0;
      for (int64_t i = 1; i < vocab; ++i) {
        const float v = lr[i], b = lr[best];
        const bool better = std::isnan(v) ? !std::isnan(b) : (!std::isnan(b) && v > b);
        if (better)
          best = i;
      }
      out[row] = int32_t(best);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Elementwise (sl_elementwise.cuh), contiguous [n, COLS]: add: out = T(a + b);
// activation: out = T(act(x)).
// ---------------------------------------------------------------------------------------------
void runAdd(Launch &L) {
  L.expect("add");
  const Elem t = L.elem("T");
  const int64_t count = L.dim("COLS") * L.count("n");
  if (count == 0)
    return;
  const void *a = L.ptr("a"), *b = L.ptr("b");
  void *out = L.ptr("out");
  for (int64_t i = 0; i < count; ++i)
    store(t, out, i, load(t, a, i) + load(t, b, i));
}

void runActivation(Launch &L) {
  L.expect("activation");
  const Elem t = L.elem("T");
  const std::string &act = L.act("ACT");
  const int64_t count = L.dim("COLS") * L.count("n");
  if (count == 0)
    return;
  const void *x = L.ptr("x");
  void *out = L.ptr("out");
  for (int64_t i = 0; i < count; ++i)
    store(t, out, i, activate(act, load(t, x, i)));
}

// ---------------------------------------------------------------------------------------------
// MoE (sl_moe.cuh). Pair p = token·TOPK + slot. The kernels that read the router's expert ids
// take the rank's range of them (expert parallelism): local expert e - expert_offset for ids in
// [expert_offset, expert_offset + local experts), the other pairs skipped.
// ---------------------------------------------------------------------------------------------

// The rank's experts [offset, offset + count) of a launch, read from its arguments.
struct ExpertRange {
  int64_t offset = 0, count = 0;
  bool contains(int32_t e) const { return e >= offset && e - offset < count; }
};

ExpertRange expertRange(const Launch &L, int64_t localExperts) {
  const ExpertRange range{L.count("expert_offset"), localExperts};
  if (range.count <= 0)
    fail("local_experts must be positive, got " + std::to_string(range.count));
  return range;
}

// The routing decision of one token from its fp32 logits: s = sigmoid (expf), top-k of
// s + correction_bias (ties -> lower expert id) in descending order; weight = s, / (sum of the
// k s + 1e-20) when normalizeTopk, · scale.
void selectExperts(const float *logits, const float *bias, int64_t experts, int64_t topk,
                   float scale, bool normalizeTopk, float *weights, int32_t *indices) {
  std::vector<float> score(static_cast<size_t>(experts)), choice(static_cast<size_t>(experts));
  for (int64_t e = 0; e < experts; ++e) {
    score[size_t(e)] = 1.0f / (1.0f + std::exp(-logits[e]));
    choice[size_t(e)] = score[size_t(e)] + bias[e];
  }
  std::vector<bool> taken(static_cast<size_t>(experts), false);
  std::vector<float> selScore(static_cast<size_t>(topk));
  std::vector<int32_t> selIdx(static_cast<size_t>(topk));
  float sum = 0.0f;
  for (int64_t j = 0; j < topk; ++j) {
    int64_t best = -1;  // ascending scan: strictly larger wins, so ties keep the lower id
    for (int64_t e = 0; e < experts; ++e)
      if (!taken[size_t(e)] && (best < 0 || choice[size_t(e)] > choice[size_t(best)]))
        best = e;
    taken[size_t(best)] = true;
    selScore[size_t(j)] = score[size_t(best)];
    selIdx[size_t(j)] = int32_t(best);
    sum += score[size_t(best)];
  }
  const float denom = sum + 1e-20f;
  for (int64_t j = 0; j < topk; ++j) {
    const float wv = normalizeTopk ? selScore[size_t(j)] / denom : selScore[size_t(j)];
    weights[j] = wv * scale;
    indices[j] = selIdx[size_t(j)];
  }
}

// moe_router<T, WT, HIDDEN, EXPERTS, TOPK, THREADS>(x, gate_w, correction_bias, weights,
//   indices, n, routed_scaling_factor, norm_topk_prob): logits in fp32, s = sigmoid (expf),
// top-k of s + correction_bias (ties -> lower expert id) in descending order; weight = s,
// / (sum of the k s + 1e-20) when norm_topk_prob, · routed_scaling_factor.
void runMoeRouter(Launch &L) {
  L.expect("moe_router");
  const Elem t = L.elem("T"), wt = L.elem("WT");
  const int64_t hidden = L.dim("HIDDEN"), experts = L.dim("EXPERTS"), topk = L.dim("TOPK");
  if (topk > experts || topk > 32)
    fail("TOPK must be <= min(EXPERTS, 32)");
  const int64_t n = L.count("n");
  if (n == 0)
    return;
  const void *x = L.ptr("x");
  const void *gateW = L.ptr("gate_w");
  const float *bias = L.ptr<const float>("correction_bias");
  float *weights = L.ptr<float>("weights");
  int32_t *indices = L.ptr<int32_t>("indices");
  const float scale = L.real("routed_scaling_factor");
  const bool normalizeTopk = L.integer("norm_topk_prob") != 0;

  std::vector<float> logits(static_cast<size_t>(n * experts));
  dotProducts(
      stridedRows(t, x, n, hidden), wt, gateW, 0, experts, hidden,
      [&](int64_t row, int64_t e, double dot) { logits[size_t(row * experts + e)] = float(dot); });
  for (int64_t row = 0; row < n; ++row)
    selectExperts(logits.data() + row * experts, bias, experts, topk, scale, normalizeTopk,
                  weights + row * topk, indices + row * topk);
}

// moe_topk<EXPERTS, TOPK, THREADS>(logits, correction_bias, weights, indices, n,
//   routed_scaling_factor, norm_topk_prob): the selection of moe_router from fp32 logits.
void runMoeTopk(Launch &L) {
  L.expect("moe_topk");
  const int64_t experts = L.dim("EXPERTS"), topk = L.dim("TOPK");
  if (topk > experts || topk > 32)
    fail("TOPK must be <= min(EXPERTS, 32)");
  const int64_t n = L.count("n");
  if (n == 0)
    return;
  const float *logits = L.ptr<const float>("logits");
  const float *bias = L.ptr<const float>("correction_bias");
  float *weights = L.ptr<float>("weights");
  int32_t *indices = L.ptr<int32_t>("indices");
  const float scale = L.real("routed_scaling_factor");
  const bool normalizeTopk = L.integer("norm_topk_prob") != 0;
  for (int64_t row = 0; row < n; ++row)
    selectExperts(logits + row * experts, bias, experts, topk, scale, normalizeTopk,
                  weights + row * topk, indices + row * topk);
}

// moe_align<EXPERTS, TOPK, BM, THREADS>(indices, n, sorted_pair, tile_expert, num_tiles,
//   expert_offset): pairs whose id is outside [expert_offset, expert_offset + EXPERTS) are
// dropped; local expert e (id e + expert_offset) owns rows [start_e, start_e + ceil(count_e/BM)·BM) (experts ascending, start_0 = 0);
// its pairs fill the first count_e rows (here in ascending pair order; the device's order is
// unspecified), the rest are -1; tile_expert[tile] = expert of rows [tile·BM, (tile+1)·BM).
void runMoeAlign(Launch &L) {
  L.expect("moe_align");
  const int64_t experts = L.dim("EXPERTS"), topk = L.dim("TOPK"), bm = L.dim("BM");
  const int64_t n = L.count("n");
  const int32_t *indices = n > 0 ? L.ptr<const int32_t>("indices") : nullptr;
  int32_t *sortedPair = L.ptr<int32_t>("sorted_pair");
  int32_t *tileExpert = L.ptr<int32_t>("tile_expert");
  int32_t *numTiles = L.ptr<int32_t>("num_tiles");
  const ExpertRange local = expertRange(L, experts);
  const int64_t pairs = n * topk;
  std::vector<int64_t> count(static_cast<size_t>(experts), 0);
  for (int64_t p = 0; p < pairs; ++p) {
    if (indices[p] < 0)
      fail("expert id " + std::to_string(indices[p]) + " of pair " + std::to_string(p) +
           " is negative");
    if (local.contains(indices[p]))
      ++count[size_t(indices[p] - local.offset)];
  }
  std::vector<int64_t> fill(static_cast<size_t>(experts));
  int64_t rows = 0;
  for (int64_t e = 0; e < experts; ++e) {
    fill[size_t(e)] = rows;
    const int64_t tiles = (count[size_t(e)] + bm - 1) / bm;
    for (int64_t tile = 0; tile < tiles; ++tile)
      tileExpert[rows / bm + tile] = int32_t(e);
    rows += tiles * bm;
  }
  *numTiles = int32_t(rows / bm);
  std::fill(sortedPair, sortedPair + rows, -1);
  for (int64_t p = 0; p < pairs; ++p)
    if (local.contains(indices[p]))
      sortedPair[fill[size_t(indices[p] - local.offset)]++] = int32_t(p);
}

// The real rows (sorted_pair >= 0) of the tiles moe_align produced, grouped by expert.
std::map<int32_t, std::vector<int64_t>> rowsByExpert(const int32_t *sortedPair,
                                                     const int32_t *tileExpert,
                                                     const int32_t *numTiles, int64_t bm) {
  if (*numTiles < 0)
    fail("num_tiles is negative (" + std::to_string(*numTiles) + ")");
  std::map<int32_t, std::vector<int64_t>> rows;
  for (int64_t tile = 0; tile < *numTiles; ++tile) {
    const int32_t e = tileExpert[tile];
    if (e < 0)
      fail("tile_expert[" + std::to_string(tile) + "] = " + std::to_string(e) + " is negative");
    for (int64_t row = tile * bm; row < (tile + 1) * bm; ++row)
      if (sortedPair[row] >= 0)
        rows[e].push_back(row);
  }
  return rows;
}

// moe_up<T, HIDDEN, INTER, TOPK, BM, BN, BK, STAGES, WARPS_M, WARPS_N, ACT>(x, up, sorted_pair,
//   tile_expert, num_tiles, h): h[row, i] = T(act(T(x[pair / TOPK] · up[e, i]))) for the real
// rows; padding rows are not written.
void runMoeUp(Launch &L) {
  L.expect("moe_up");
  const Elem t = L.elem("T");
  const int64_t hidden = L.dim("HIDDEN"), inter = L.dim("INTER"), topk = L.dim("TOPK"),
                bm = L.dim("BM");
  const std::string &act = L.act("ACT");
  const void *x = L.ptr("x");
  const void *up = L.ptr("up");
  const int32_t *sortedPair = L.ptr<const int32_t>("sorted_pair");
  const int32_t *tileExpert = L.ptr<const int32_t>("tile_expert");
  const int32_t *numTiles = L.ptr<const int32_t>("num_tiles");
  void *h = L.ptr("h");
  for (const auto &group : rowsByExpert(sortedPair, tileExpert, numTiles, bm)) {
    const int32_t e = group.first;
    const std::vector<int64_t> &rows = group.second; // (C++17 lambdas cannot capture bindings)
    Rows a{t, x, {}};
    for (int64_t row : rows)
      a.offsets.push_back(int64_t(sortedPair[row] / topk) * hidden);
    dotProducts(a, t, up, int64_t(e) * inter * hidden, inter, hidden,
                [&](int64_t r, int64_t i, double dot) {
                  const float u = roundTo(t, float(dot));
                  store(t, h, rows[size_t(r)] * inter + i, activate(act, u));
                });
  }
}

// moe_down<T, HIDDEN, INTER, TOPK, BM, BN, BK, STAGES, WARPS_M, WARPS_N>(h, down, sorted_pair,
//   tile_expert, num_tiles, slot_out): slot_out[pair, j] = T(h[row] · down[e, j]), unweighted,
// in pair order.
void runMoeDown(Launch &L) {
  L.expect("moe_down");
  const Elem t = L.elem("T");
  const int64_t hidden = L.dim("HIDDEN"), inter = L.dim("INTER"), bm = L.dim("BM");
  L.dim("TOPK");
  const void *h = L.ptr("h");
  const void *down = L.ptr("down");
  const int32_t *sortedPair = L.ptr<const int32_t>("sorted_pair");
  const int32_t *tileExpert = L.ptr<const int32_t>("tile_expert");
  const int32_t *numTiles = L.ptr<const int32_t>("num_tiles");
  void *slotOut = L.ptr("slot_out");
  for (const auto &group : rowsByExpert(sortedPair, tileExpert, numTiles, bm)) {
    const int32_t e = group.first;
    const std::vector<int64_t> &rows = group.second; // (C++17 lambdas cannot capture bindings)
    Rows a{t, h, {}};
    for (int64_t row : rows)
      a.offsets.push_back(row * inter);
    dotProducts(a, t, down, int64_t(e) * hidden * inter, hidden, inter,
                [&](int64_t r, int64_t j, double dot) {
                  store(t, slotOut, int64_t(sortedPair[rows[size_t(r)]]) * hidden + j, float(dot));
                });
  }
}

// The routed sum and epilogue shared by moe_combine and moe_decode_down, for token `token`:
// out = T(T(T(sum over the slots of `local` experts in ascending expert id (stable) of
// fl(w · y)) + shared) + residual), y(slot, col) the T-valued expert output of that slot.
template <typename ExpertOut>
void combineToken(Elem t, int64_t hidden, int64_t topk, int64_t token, const float *weights,
                  const int32_t *indices, const ExpertRange &local, const void *shared,
                  const void *residual, void *out, ExpertOut &&y) {
  std::vector<int64_t> order;
  const int32_t *idx = indices + token * topk;
  for (int64_t j = 0; j < topk; ++j)
    if (local.contains(idx[j]))
      order.push_back(j);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return idx[a] < idx[b]; });
  for (int64_t col = 0; col < hidden; ++col) {
    float routed = 0.0f;
    for (int64_t slot : order)
      routed = addRn(routed, mulRn(weights[token * topk + slot], y(slot, col)));
    const int64_t off = token * hidden + col;
    float v = roundTo(t, routed);
    if (shared != nullptr)
      v = roundTo(t, v + load(t, shared, off));
    if (residual != nullptr)
      v = roundTo(t, v + load(t, residual, off));
    store(t, out, off, v);
  }
}

// moe_combine<T, HIDDEN, TOPK, THREADS, HAS_SHARED, HAS_RESIDUAL>(slot_out, weights, indices,
//   shared_out, residual, out, n, expert_offset, local_experts). out may alias shared_out /
// residual (read before written).
void runMoeCombine(Launch &L) {
  L.expect("moe_combine");
  const Elem t = L.elem("T");
  const int64_t hidden = L.dim("HIDDEN"), topk = L.dim("TOPK");
  const bool hasShared = L.flag("HAS_SHARED"), hasResidual = L.flag("HAS_RESIDUAL");
  const int64_t n = L.count("n");
  const ExpertRange local = expertRange(L, L.integer("local_experts"));
  if (n == 0)
    return;
  const void *slotOut = L.ptr("slot_out");
  const float *weights = L.ptr<const float>("weights");
  const int32_t *indices = L.ptr<const int32_t>("indices");
  const void *shared = hasShared ? L.ptr("shared_out") : nullptr;
  const void *residual = hasResidual ? L.ptr("residual") : nullptr;
  void *out = L.ptr("out");
  parallelFor(n, topk * hidden, [&](int64_t t0, int64_t t1) {
    for (int64_t token = t0; token < t1; ++token)
      combineToken(t, hidden, topk, token, weights, indices, local, shared, residual, out,
                   [&](int64_t slot, int64_t col) {
                     return load(t, slotOut, (token * topk + slot) * hidden + col);
                   });
  });
}

// The pairs p < pairs of `local` experts grouped by their local expert indices[p] - offset
// (ids must be >= 0).
std::map<int32_t, std::vector<int64_t>> pairsByExpert(const int32_t *indices, int64_t pairs,
                                                      const ExpertRange &local) {
  std::map<int32_t, std::vector<int64_t>> groups;
  for (int64_t p = 0; p < pairs; ++p) {
    if (indices[p] < 0)
      fail("expert id " + std::to_string(indices[p]) + " of pair " + std::to_string(p) +
           " is negative");
    if (local.contains(indices[p]))
      groups[int32_t(indices[p] - local.offset)].push_back(p);
  }
  return groups;
}

// moe_decode_up<T, HIDDEN, INTER, TOPK, WARPS, ACT>(x, up, indices, h, n, expert_offset,
//   local_experts): h[p, i] = T(act(T(x[p / TOPK] · up[indices[p] - expert_offset, i]))) for
// the pairs of local experts (the other rows are not written).
void runMoeDecodeUp(Launch &L) {
  L.expect("moe_decode_up");
  const Elem t = L.elem("T");
  const int64_t hidden = L.dim("HIDDEN"), inter = L.dim("INTER"), topk = L.dim("TOPK");
  const std::string &act = L.act("ACT");
  const int64_t n = L.count("n");
  const ExpertRange local = expertRange(L, L.integer("local_experts"));
  if (n == 0)
    return;
  const void *x = L.ptr("x");
  const void *up = L.ptr("up");
  const int32_t *indices = L.ptr<const int32_t>("indices");
  void *h = L.ptr("h");
  for (const auto &group : pairsByExpert(indices, n * topk, local)) {
    const int32_t e = group.first;
    const std::vector<int64_t> &pairs = group.second; // (C++17 lambdas cannot capture bindings)
    Rows a{t, x, {}};
    for (int64_t p : pairs)
      a.offsets.push_back((p / topk) * hidden);
    dotProducts(a, t, up, int64_t(e) * inter * hidden, inter, hidden,
                [&](int64_t r, int64_t i, double dot) {
                  const float u = roundTo(t, float(dot));
                  store(t, h, pairs[size_t(r)] * inter + i, activate(act, u));
                });
  }
}

// moe_decode_down<T, HIDDEN, INTER, TOPK, WARPS, HAS_SHARED, HAS_RESIDUAL>(h, down, weights,
//   indices, shared_out, residual, out, n, expert_offset, local_experts):
// y[p, j] = T(h[p] · down[indices[p] - expert_offset, j]) for the pairs of local experts, then
// the routed sum (over those pairs) / shared / residual epilogue of moe_combine.
void runMoeDecodeDown(Launch &L) {
  L.expect("moe_decode_down");
  const Elem t = L.elem("T");
  const int64_t hidden = L.dim("HIDDEN"), inter = L.dim("INTER"), topk = L.dim("TOPK");
  const bool hasShared = L.flag("HAS_SHARED"), hasResidual = L.flag("HAS_RESIDUAL");
  const int64_t n = L.count("n");
  const ExpertRange local = expertRange(L, L.integer("local_experts"));
  if (n == 0)
    return;
  const void *h = L.ptr("h");
  const void *down = L.ptr("down");
  const float *weights = L.ptr<const float>("weights");
  const int32_t *indices = L.ptr<const int32_t>("indices");
  const void *shared = hasShared ? L.ptr("shared_out") : nullptr;
  const void *residual = hasResidual ? L.ptr("residual") : nullptr;
  void *out = L.ptr("out");
  std::vector<float> y(
      static_cast<size_t>(n * topk * hidden)); // T-rounded expert outputs, pair order
  for (const auto &group : pairsByExpert(indices, n * topk, local)) {
    const int32_t e = group.first;
    const std::vector<int64_t> &pairs = group.second; // (C++17 lambdas cannot capture bindings)
    Rows a{t, h, {}};
    for (int64_t p : pairs)
      a.offsets.push_back(p * inter);
    dotProducts(a, t, down, int64_t(e) * hidden * inter, hidden, inter,
                [&](int64_t r, int64_t j, double dot) {
                  y[size_t(pairs[size_t(r)] * hidden + j)] = roundTo(t, float(dot));
                });
  }
  for (int64_t token = 0; token < n; ++token)
    combineToken(
        t, hidden, topk, token, weights, indices, local, shared, residual, out,
        [&](int64_t slot, int64_t col) { return y[size_t((token * topk + slot) * hidden + col)]; });
}

} // namespace

std::vector<KernelEntry> denseKernels() {
  return {
      {"rms_norm", guarded<runRmsNorm>},
      {"add_rms_norm", guarded<runAddRmsNorm>},
      {"gated_rms_norm", guarded<runGatedRmsNorm>},
      {"gated_sum_squares", guarded<runGatedSumSquares>},
      {"gated_rms_norm_sums", guarded<runGatedRmsNormSums>},
      {"gemm", guarded<runGemm>},
      {"gemm_wgmma", guarded<runGemmWgmma>},
      {"gemv", guarded<runGemv>},
      {"gemv_rmsnorm", guarded<runGemvRmsNorm>},
      {"embedding", guarded<runEmbedding>},
      {"argmax", guarded<runArgmax>},
      {"add", guarded<runAdd>},
      {"activation", guarded<runActivation>},
      {"moe_router", guarded<runMoeRouter>},
      {"moe_topk", guarded<runMoeTopk>},
      {"moe_align", guarded<runMoeAlign>},
      {"moe_up", guarded<runMoeUp>},
      {"moe_down", guarded<runMoeDown>},
      {"moe_combine", guarded<runMoeCombine>},
      {"moe_decode_up", guarded<runMoeDecodeUp>},
      {"moe_decode_down", guarded<runMoeDecodeDown>},
  };
}

} // namespace sl::cpu
