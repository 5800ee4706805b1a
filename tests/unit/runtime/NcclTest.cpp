// The NCCL loader of multi-GPU runs (runtime/cuda/Nccl.h): which libraries it takes, what it
// says when there is none, and the ABI it declares against the wheel's own header. Opening the
// library and asking its version needs no GPU. tools/test.sh installs the wheel
// (nvidia-nccl-cu13); without it the tests that need the library are skipped.
#include "runtime/cuda/Nccl.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace {

using sl::cuda::Nccl;

TEST(Nccl, NothingToOpenSaysHowToInstallIt) {
  auto none = Nccl::open({});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("pip install nvidia-nccl-cu13"), std::string::npos);
  EXPECT_NE(none.status().message().find("SL_NCCL_LIBRARY"), std::string::npos);

  auto missing = Nccl::open({"/nonexistent/libnccl.so.2"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/libnccl.so.2: no such file"),
            std::string::npos)
      << missing.status().message();
}

TEST(Nccl, ALibraryWithoutItsEntryPointsIsRefused) {
  auto other = Nccl::open({"libz.so.1"});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("libz.so.1: lacks ncclGetVersion"), std::string::npos)
      << other.status().message();
}

TEST(Nccl, SetLibraryIsTheOnlyCandidate) {
  ::setenv("SL_NCCL_LIBRARY", "/opt/x/libnccl.so.2", 1);
  EXPECT_EQ(Nccl::candidates(), std::vector<std::string>{"/opt/x/libnccl.so.2"});
  ::unsetenv("SL_NCCL_LIBRARY");
  auto found = Nccl::candidates();
  EXPECT_NE(std::find(found.begin(), found.end(), "libnccl.so.2"), found.end());
}

// The wheel's library, found as slrun finds it; its version and the enum values Nccl.h
// declares, read from the wheel's nccl.h.
TEST(Nccl, TheWheelLoadsAndMatchesTheDeclaredAbi) {
  ::unsetenv("SL_NCCL_LIBRARY");
  auto nccl = Nccl::open(Nccl::candidates());
  if (!nccl.ok())
    GTEST_SKIP() << "no NCCL here: " << nccl.status().message();
  EXPECT_GE(nccl->version, 21000) << nccl->versionText();
  EXPECT_NE(nccl->versionText().find('.'), std::string::npos);
  EXPECT_EQ(std::string(nccl->ncclGetErrorString(0)), "no error");
  EXPECT_FALSE(nccl->check(2, "ncclAllReduce", "a test").ok());
  EXPECT_NE(nccl->check(2, "ncclAllReduce", "a test").message().find("ncclAllReduce failed"),
            std::string::npos);

  std::filesystem::path header =
      std::filesystem::path(nccl->path).parent_path().parent_path() / "include" / "nccl.h";
  if (!std::filesystem::exists(header))
    GTEST_SKIP() << "no nccl.h next to " << nccl->path;
  std::ifstream in(header);
  std::stringstream text;
  text << in.rdbuf();
  const std::string source = text.str();
  auto valueOf = [&](const std::string &name) {
    std::smatch match;
    std::regex pattern("\\b" + name + "\\s*=\\s*(\\d+)");
    return std::regex_search(source, match, pattern) ? std::stoi(match[1]) : -1;
  };
  EXPECT_EQ(valueOf("ncclSuccess"), 0);
  EXPECT_EQ(valueOf("ncclSum"), Nccl::kSum);
  EXPECT_EQ(valueOf("ncclFloat16"), Nccl::kFloat16);
  EXPECT_EQ(valueOf("ncclFloat32"), Nccl::kFloat32);
  EXPECT_EQ(valueOf("ncclBfloat16"), Nccl::kBfloat16);
}

}  // namespace
