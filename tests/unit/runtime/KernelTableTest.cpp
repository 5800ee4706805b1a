// The kernel signature table (runtime/kernels/KernelTable.h) against the kernel library itself:
// every shared-memory formula of the table equals the constexpr function of the kernel's header
// at the samples of its row (checked by NVRTC: a static_assert per specialisation; the gemm family also against the bytes
// its main loops really use), and every template has its CPU reference.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/kernels/KernelLibrary.h"
#include "runtime/kernels/KernelTable.h"
#include "runtime/nvrtc/Nvrtc.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using sl::kernels::KernelSignature;

using Sample = KernelSignature::SmemSample;

// What the gemm family's main loops use for a sample (beside the documented formula).
std::string gemmUsage(const KernelSignature &kernel, const Sample &sample, int64_t bytes) {
  sl::kernels::TemplateArgs t(kernel, sample.args);
  const std::string tiles = t["BM"] + ", " + t["BN"] + ", " + t["BK"] + ", " + t["STAGES"] +
                            ", " + t["WARPS_M"] + ", " + t["WARPS_N"];
  if (t["T"] == "slk::bf16")
    return "static_assert(slk::dn::MmaConfig<" + tiles + ">::SMEM_BYTES == " +
           std::to_string(bytes) + ", \"" + kernel.name + ": the tensor-core main loop\");\n";
  return "static_assert((" + t["BM"] + " + " + t["BN"] + ") * (" + t["BK"] +
         " + 1) * 4 <= " + std::to_string(bytes) + ", \"" + kernel.name +
         ": the FMA main loop\");\n";
}

TEST(KernelTable, SharedMemoryFormulasMatchTheHeaders) {
  std::map<std::string, std::string> sources;  // header -> static_asserts
  size_t checked = 0;
  for (const KernelSignature &kernel : sl::kernels::kernelTable()) {
    if (!kernel.sharedBytes) {
      EXPECT_TRUE(kernel.smemSamples.empty()) << kernel.name << " has samples but no smem formula";
      continue;
    }
    ASSERT_FALSE(kernel.smemSamples.empty()) << kernel.name << " has an smem formula but no samples";
    ASSERT_FALSE(kernel.smemCheck.empty()) << kernel.name;
    for (const Sample &sample : kernel.smemSamples) {
      ASSERT_EQ(sample.args.size(), kernel.templateParams.size()) << kernel.name;
      const int64_t bytes = sl::kernels::sharedBytes(kernel, sample.args, sample.constants);
      EXPECT_GT(bytes, 0) << kernel.name;
      std::string &source = sources[kernel.header];
      const std::string symbol = sl::kernels::kernelSymbol(kernel, sample.args);
      source += "static_assert(" +
                sl::kernels::smemCheckExpression(kernel, sample.args, sample.constants) +
                " == " + std::to_string(bytes) + ", \"" + symbol + ": the table says " +
                std::to_string(bytes) + " bytes\");\n";
      if (kernel.smemCheck.find("gemm_smem") != std::string::npos)
        source += gemmUsage(kernel, sample, bytes);
      ++checked;
    }
  }
  EXPECT_GE(checked, 20u);
  for (const auto &[header, asserts] : sources) {
    const std::string source = "#include \"" + header + "\"\n" + asserts;
    auto compiled = sl::nvrtc::compile("smem_" + header + ".cu", source,
                                       sl::kernels::libraryHeaders(), "sm_90a");
    EXPECT_TRUE(compiled.ok()) << header << ":\n"
                               << source << "\n"
                               << compiled.status().message();
  }
}

TEST(KernelTable, SmemCheckSpellsTheArguments) {
  const KernelSignature *scan = sl::kernels::findKernel("ssd_chunk_scan");
  ASSERT_NE(scan, nullptr);
  const std::vector<std::string> args = {"slk::bf16", "64", "64", "8", "128", "128", "256"};
  EXPECT_EQ(sl::kernels::smemCheckExpression(*scan, args), "slk::ssd_chunk_scan_smem(64, 128)");
  EXPECT_EQ(sl::kernels::sharedBytes(*scan, args), 100096);  // as tests/compile expects
  const KernelSignature *gemv = sl::kernels::findKernel("gemv_rmsnorm");
  ASSERT_NE(gemv, nullptr);
  EXPECT_EQ(sl::kernels::smemCheckExpression(
                *gemv, {"slk::bf16", "slk::bf16", "slk::bf16", "4", "1", "slk::kActNone", "false",
                        "false"},
                {{"k", 2688}}),
            "slk::gemv_rmsnorm_smem<slk::bf16, 1>(2688)");
  EXPECT_EQ(sl::kernels::sharedBytes(*sl::kernels::findKernel("rms_norm"),
                                     {"slk::bf16", "slk::bf16", "64", "32"}),
            0);
}

TEST(KernelTable, EveryTemplateHasItsCpuReference) {
  std::set<std::string> names;
  for (const KernelSignature &kernel : sl::kernels::kernelTable()) {
    EXPECT_TRUE(names.insert(kernel.name).second) << kernel.name << " twice";
    EXPECT_NE(sl::cpu::lookupKernel(kernel.name), nullptr) << kernel.name;
    EXPECT_EQ(kernel.labels.size(), kernel.templateParams.size()) << kernel.name;
    for (const auto &param : kernel.params)
      EXPECT_EQ(kernel.paramIndex(param.name), &param - kernel.params.data())
          << kernel.name << ": parameter " << param.name << " twice";
  }
}

}  // namespace
