// compileKernels: a kernel NVRTC rejects fails the whole check with a message that names the
// kernel and the target and carries NVRTC's log; good kernels come back as one cubin per
// (kernel, target). sl-check-kernel-shapes refuses every shape the library does not support
// before this step, so no model input reaches this path: it is tested with sources directly.
#include "compiler/KernelCheck.h"

#include <gtest/gtest.h>

using sl::compiler::compileKernels;
using sl::compiler::KernelSource;

TEST(KernelCheck, CompilesEveryKernelForItsTarget) {
  const char *addOne =
      "extern \"C\" __global__ void add_one(float *x) { x[threadIdx.x] += 1.0f; }\n";
  const std::vector<KernelSource> kernels = {
      {"add_one", addOne, "sm_90a"},
      {"add_one", addOne, "sm_100a"},
      {"twice", "extern \"C\" __global__ void twice(float *x) { x[threadIdx.x] *= 2.0f; }\n",
       "sm_100a"}};
  auto cubins = compileKernels(kernels, 2);
  ASSERT_TRUE(cubins.ok()) << cubins.status().message();
  EXPECT_EQ(cubins->size(), 3u);
  EXPECT_EQ(cubins->count({"twice", "sm_90a"}), 0u);
  EXPECT_EQ(cubins->count({"twice", "sm_100a"}), 1u);
  for (const auto &[key, cubin] : *cubins)
    EXPECT_FALSE(cubin.empty()) << key.first << " " << key.second;
}

TEST(KernelCheck, NvrtcFailureNamesKernelTargetAndLog) {
  const std::vector<KernelSource> kernels = {
      {"fine", "extern \"C\" __global__ void fine(float *x) { x[0] = 0.0f; }\n", "sm_90a"},
      {"broken",
       "#include \"sl_common.cuh\"\nstatic_assert(sizeof(int) == 3, \"ints are not "
       "three bytes\");\nextern \"C\" __global__ void broken() {}\n",
       "sm_90a"}};
  auto cubins = compileKernels(kernels, 1);
  ASSERT_FALSE(cubins.ok());
  const std::string message = cubins.status().message();
  EXPECT_NE(message.find("1 kernel compilation(s) failed"), std::string::npos) << message;
  EXPECT_NE(message.find("broken.cu for sm_90a"), std::string::npos) << message;
  EXPECT_NE(message.find("ints are not three bytes"), std::string::npos) << message;
  EXPECT_EQ(message.find("fine.cu"), std::string::npos) << message;
}
