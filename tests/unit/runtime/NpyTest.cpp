#include "runtime/io/Npy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <unistd.h>

using namespace sl::io;
using sl::Status;

namespace {

class NpyTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "sl_npy_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }
  std::string path(const std::string &name) const { return dir_ + "/" + name; }
  std::vector<std::string> listDir() const {
    std::vector<std::string> out;
    if (DIR *d = ::opendir(dir_.c_str())) {
      while (dirent *e = ::readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..")
          out.push_back(e->d_name);
      ::closedir(d);
    }
    return out;
  }

  std::string dir_;
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A .npy file as numpy writes it (version 1.0 or 2.0), header padded to 64 bytes.
std::string npyBytes(const std::string &dict, const std::string &data, int major = 1) {
  size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64)
    header.push_back(' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(char(major));
  out.push_back(0);
  out.push_back(char(header.size() & 0xFF));
  out.push_back(char(header.size() >> 8));
  if (major != 1) {
    out.push_back(0);
    out.push_back(0);
  }
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T> &v) {
  return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_F(NpyTest, RoundTripEveryDType) {
  struct Case {
    NpyDType dtype;
    std::vector<int64_t> shape;
  };
  const std::vector<Case> cases = {
      {NpyDType::I32, {2, 3}}, {NpyDType::I64, {5}},    {NpyDType::F32, {2, 1, 4}},
      {NpyDType::F16, {3}},    {NpyDType::F64, {}},     {NpyDType::U16, {4, 2}},
      {NpyDType::U8, {7}},     {NpyDType::F32, {0, 3}},
  };
  int index = 0;
  for (const Case &c : cases) {
    int64_t numel = 1;
    for (int64_t d : c.shape)
      numel *= d;
    std::vector<uint8_t> data(size_t(numel) * npyDTypeSize(c.dtype));
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = uint8_t(i * 37 + 11);
    const std::string file = path("a" + std::to_string(index++) + ".npy");
    Status w = writeNpy(file, c.dtype, c.shape, data.data(), data.size());
    ASSERT_TRUE(w.ok()) << w.message();
    const std::string bytes = readFile(file);
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    size_t headerLen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    EXPECT_EQ((10 + headerLen) % 64, 0u);
    EXPECT_EQ(bytes[10 + headerLen - 1], '\n');
    EXPECT_TRUE(contains(bytes, std::string("'descr': '") + npyDTypeDescr(c.dtype) + "'"));

    auto r = readNpy(file);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->dtype, c.dtype);
    EXPECT_EQ(r->shape, c.shape);
    EXPECT_EQ(r->numel(), numel);
    EXPECT_EQ(r->data, data);
  }
  EXPECT_EQ(listDir().size(), cases.size());  // no temporary files left behind
}

TEST_F(NpyTest, HeaderTextMatchesNumpy) {
  std::vector<int32_t> v = {1, 2, 3};
  ASSERT_TRUE(writeNpy(path("v.npy"), NpyDType::I32, {3}, v.data(), 12).ok());
  EXPECT_EQ(readFile(path("v.npy")),
            npyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", raw(v)));
  std::vector<float> s = {2.5f};
  ASSERT_TRUE(writeNpy(path("s.npy"), NpyDType::F32, {}, s.data(), 4).ok());
  EXPECT_EQ(readFile(path("s.npy")),
            npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw(s)));
}

TEST_F(NpyTest, ReadsNumpyWrittenFiles) {
  std::vector<float> f = {1, 2, 3, 4, 5, 6};
  writeFile(path("v1.npy"),
            npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", raw(f)));
  auto v1 = readNpy(path("v1.npy"));
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  EXPECT_EQ(v1->dtype, NpyDType::F32);
  EXPECT_EQ(v1->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(v1->data.size(), 24u);
  float last;
  std::memcpy(&last, v1->data.data() + 20, 4);
  EXPECT_EQ(last, 6.0f);

  std::vector<int64_t> ids = {7, -1};
  writeFile(path("v2.npy"),
            npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", raw(ids), 2));
  auto v2 = readNpy(path("v2.npy"));
  ASSERT_TRUE(v2.ok()) << v2.status().message();
  EXPECT_EQ(v2->dtype, NpyDType::I64);
  EXPECT_EQ(v2->shape, (std::vector<int64_t>{2}));

  // Key order and quoting differ from numpy's own but are valid Python.
  writeFile(path("odd.npy"),
            npyBytes("{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"|u1\"}",
                     std::string("\x01\x02", 2)));
  auto odd = readNpy(path("odd.npy"));
  ASSERT_TRUE(odd.ok()) << odd.status().message();
  EXPECT_EQ(odd->dtype, NpyDType::U8);
}

TEST_F(NpyTest, ReadErrorsNameFileAndProblem) {
  auto expectError = [&](const std::string &name, const std::string &bytes,
                         const std::string &problem) {
    writeFile(path(name), bytes);
    auto r = readNpy(path(name));
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_TRUE(contains(r.status().message(), path(name))) << r.status().message();
    EXPECT_TRUE(contains(r.status().message(), problem)) << r.status().message();
  };
  std::vector<float> f = {1, 2, 3, 4};
  expectError("text.npy", "hello, this is not numpy", "not a .npy file");
  expectError("short.npy", "\x93NUM", "not a .npy file");
  expectError("fortran.npy",
              npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", raw(f)),
              "Fortran order");
  expectError("complex.npy",
              npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", raw(f)),
              "unsupported dtype '<c8'");
  expectError("bigendian.npy",
              npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", raw(f)),
              "big-endian");
  expectError("structured.npy",
              npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }",
                       raw(f)),
              "unsupported dtype");
  expectError("truncated.npy",
              npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", raw(f)),
              "truncated data");
  expectError("trailing.npy",
              npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", raw(f)),
              "unexpected bytes");
  expectError("badheader.npy", npyBytes("{'descr': '<f4', 'shape': (4,), }", raw(f)),
              "'fortran_order'");
  expectError("garbled.npy", npyBytes("{'descr': '<f4' 'shape'", raw(f)), "malformed header");
  std::string future = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                                raw(f));
  future[6] = 9;
  expectError("future.npy", future, "version 9.0");
  std::string cut = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", "");
  expectError("cutheader.npy", cut.substr(0, 40), "truncated header");

  auto missing = readNpy(path("missing.npy"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.status().message(), path("missing.npy")));
  EXPECT_TRUE(contains(missing.status().message(), "cannot be opened"));
}

TEST_F(NpyTest, WriteErrorsAndAtomicReplace) {
  std::vector<float> f = {1, 2, 3};
  Status wrongSize = writeNpy(path("x.npy"), NpyDType::F32, {2, 2}, f.data(), 12);
  ASSERT_FALSE(wrongSize.ok());
  EXPECT_TRUE(contains(wrongSize.message(), path("x.npy")));
  EXPECT_TRUE(contains(wrongSize.message(), "16"));

  Status noDir = writeNpy(path("no/such/dir/x.npy"), NpyDType::F32, {3}, f.data(), 12);
  ASSERT_FALSE(noDir.ok());
  EXPECT_TRUE(contains(noDir.message(), "no/such/dir/x.npy"));
  EXPECT_TRUE(contains(noDir.message(), "cannot write"));

  Status negative = writeNpy(path("x.npy"), NpyDType::F32, {-1}, f.data(), 12);
  ASSERT_FALSE(negative.ok());

  // Replacing an existing file leaves the new content and no temporary file.
  ASSERT_TRUE(writeNpy(path("x.npy"), NpyDType::F32, {3}, f.data(), 12).ok());
  NpyArray array;
  array.dtype = NpyDType::I64;
  array.shape = {1};
  array.data.assign(8, 0x42);
  ASSERT_TRUE(writeNpy(path("x.npy"), array).ok());
  auto r = readNpy(path("x.npy"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dtype, NpyDType::I64);
  EXPECT_EQ(r->data, array.data);
  EXPECT_EQ(listDir(), std::vector<std::string>{"x.npy"});
}
