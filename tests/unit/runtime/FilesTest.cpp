#include "runtime/io/Files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto *test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("sl_files_" + std::string(test->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST_F(FilesTest, ReadsARegularFile) {
  std::string path = (dir_ / "bytes.bin").string();
  std::ofstream(path, std::ios::binary) << std::string("ab\0c", 4);
  auto bytes = sl::io::readWholeFile(path, "artifact");
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  EXPECT_EQ(std::vector<uint8_t>({'a', 'b', 0, 'c'}), *bytes);
  EXPECT_TRUE(sl::io::checkRegularFile(path, "artifact").ok());
}

// A directory where a file is expected is an error naming it, not a std::ios_failure.
TEST_F(FilesTest, ADirectoryIsNoFile) {
  auto bytes = sl::io::readWholeFile(dir_.string(), "artifact");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ("artifact " + dir_.string() + ": is a directory, not a file",
            bytes.status().message());
  sl::Status checked = sl::io::checkRegularFile(dir_.string(), "artifact");
  EXPECT_EQ(bytes.status().message(), checked.message());
}

TEST_F(FilesTest, AMissingFileIsNamed) {
  std::string path = (dir_ / "nowhere").string();
  auto bytes = sl::io::readWholeFile(path, "npy file");
  ASSERT_FALSE(bytes.ok());
  EXPECT_TRUE(contains(bytes.status().message(), "npy file " + path + ": cannot be opened"))
      << bytes.status().message();
  EXPECT_EQ("npy file " + path + ": no such file",
            sl::io::checkRegularFile(path, "npy file").message());
}

TEST_F(FilesTest, ADeviceIsNoRegularFile) {
  EXPECT_EQ("artifact /dev/null: not a regular file",
            sl::io::checkRegularFile("/dev/null", "artifact").message());
}

}  // namespace
