#include "runtime/io/Safetensors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace sl::io;
using sl::Status;

namespace {

struct RawTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", or anything for error tests
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

template <typename T>
std::vector<uint8_t> toBytes(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty())
    std::memcpy(out.data(), v.data(), out.size());
  return out;
}

RawTensor f32Tensor(const std::string &name, std::vector<int64_t> shape,
                    const std::vector<float> &values) {
  return {name, "F32", std::move(shape), toBytes(values)};
}

RawTensor bf16Tensor(const std::string &name, std::vector<int64_t> shape,
                     const std::vector<float> &values) {
  std::vector<uint16_t> bits;
  for (float v : values)
    bits.push_back(f32ToBF16(v));
  return {name, "BF16", std::move(shape), toBytes(bits)};
}

RawTensor f16Tensor(const std::string &name, std::vector<int64_t> shape,
                    const std::vector<float> &values) {
  std::vector<uint16_t> bits;
  for (float v : values)
    bits.push_back(f32ToF16(v));
  return {name, "F16", std::move(shape), toBytes(bits)};
}

// Writes a safetensors file; `truncateBy` drops that many bytes from the end.
void writeSafetensors(const std::string &path, const std::vector<RawTensor> &tensors,
                      size_t truncateBy = 0) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const RawTensor &t : tensors) {
    size_t begin = data.size();
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape},
                      {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8)
    text.push_back(' ');
  std::string file;
  uint64_t len = text.size();
  for (int i = 0; i < 8; ++i)
    file.push_back(char((len >> (8 * i)) & 0xFF));
  file += text;
  file.append(reinterpret_cast<const char *>(data.data()), data.size());
  file.resize(file.size() - truncateBy);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(file.data(), std::streamsize(file.size()));
}

void writeText(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "sl_safetensors_XXXXXX";
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

  std::string dir_;
};

std::vector<float> asF32(const std::vector<uint8_t> &bytes) {
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

std::vector<uint16_t> asU16(const std::vector<uint8_t> &bytes) {
  std::vector<uint16_t> out(bytes.size() / 2);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(SafetensorsConvert, Bf16RoundTripAndRounding) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = bf16ToF32(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBF16(f))));
      continue;
    }
    ASSERT_EQ(f32ToBF16(f), h) << h;
  }
  // Halfway cases round to even.
  EXPECT_EQ(f32ToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // 1 + half ulp -> 1
  EXPECT_EQ(f32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // -> even upper
  EXPECT_EQ(f32ToBF16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(f32ToBF16(-2.0f), 0xC000);
  EXPECT_EQ(f32ToBF16(3.4028235e38f), 0x7F80);  // rounds up to inf
}

TEST(SafetensorsConvert, F16RoundTripAndRounding) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = f16ToF32(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16ToF32(f32ToF16(f))));
      continue;
    }
    ASSERT_EQ(f32ToF16(f), h) << h;
  }
  EXPECT_EQ(f16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(f16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32ToF16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32ToF16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32ToF16(65520.0f), 0x7C00);  // halfway to the next (inf): even -> inf
  EXPECT_EQ(f32ToF16(1e10f), 0x7C00);
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -25)), 0x0000);         // halfway: even -> 0
  EXPECT_EQ(f32ToF16(1.5f * std::ldexp(1.0f, -25)), 0x0001);  // above halfway
  EXPECT_EQ(f32ToF16(3 * std::ldexp(1.0f, -25)), 0x0002);     // 1.5 ulp -> even 2
  EXPECT_EQ(f32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // 1 + half ulp -> 1
  EXPECT_EQ(f32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(f32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -14) * (1 - std::ldexp(1.0f, -12))), 0x0400);  // carry
}

TEST_F(SafetensorsTest, SingleFileAllDTypes) {
  writeSafetensors(path("model.safetensors"),
                   {f32Tensor("a.weight", {2, 3}, {1, 2, 3, 4, 5, 6}),
                    f16Tensor("b.weight", {4}, {0.5f, -1.0f, 2.0f, 1024.0f}),
                    bf16Tensor("c.weight", {2, 2}, {1.0f, -3.0f, 0.25f, 7.0f}),
                    f32Tensor("empty", {0, 4}, {})});
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(store->names(), (std::vector<std::string>{"a.weight", "b.weight", "c.weight",
                                                      "empty"}));
  EXPECT_EQ(store->find("nope"), nullptr);

  const TensorView *a = store->find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, WeightDType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->nbytes, 24u);
  float a5;
  std::memcpy(&a5, a->data + 5 * 4, 4);
  EXPECT_EQ(a5, 6.0f);

  const TensorView *b = store->find("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, WeightDType::F16);
  const TensorView *c = store->find("c.weight");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, WeightDType::BF16);
  EXPECT_EQ(store->find("empty")->numel(), 0);

  // Conversions: f16 -> f32, bf16 -> f32, f32 -> bf16, f32 -> f16, same dtype copy.
  auto bF32 = materialize(*store, "b.weight", WeightDType::F32, {4});
  ASSERT_TRUE(bF32.ok()) << bF32.status().message();
  EXPECT_EQ(asF32(*bF32), (std::vector<float>{0.5f, -1.0f, 2.0f, 1024.0f}));
  auto cF32 = materialize(*store, "c.weight", WeightDType::F32, {2, 2});
  ASSERT_TRUE(cF32.ok());
  EXPECT_EQ(asF32(*cF32), (std::vector<float>{1.0f, -3.0f, 0.25f, 7.0f}));
  auto aBF16 = materialize(*store, "a.weight", WeightDType::BF16, {2, 3});
  ASSERT_TRUE(aBF16.ok());
  EXPECT_EQ(asU16(*aBF16),
            (std::vector<uint16_t>{0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0, 0x40C0}));
  auto aF16 = materialize(*store, "a.weight", WeightDType::F16, {2, 3});
  ASSERT_TRUE(aF16.ok());
  EXPECT_EQ(asU16(*aF16),
            (std::vector<uint16_t>{0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600}));
  auto cBF16 = materialize(*store, "c.weight", WeightDType::BF16, {2, 2});
  ASSERT_TRUE(cBF16.ok());
  EXPECT_EQ(*cBF16, std::vector<uint8_t>(c->data, c->data + c->nbytes));
  auto bBF16 = materialize(*store, "b.weight", WeightDType::BF16, {4});  // f16 -> bf16
  ASSERT_TRUE(bBF16.ok());
  EXPECT_EQ(asU16(*bBF16), (std::vector<uint16_t>{0x3F00, 0xBF80, 0x4000, 0x4480}));
  auto empty = materialize(*store, "empty", WeightDType::BF16, {0, 4});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(SafetensorsTest, Bf16RoundingToNearestEven) {
  writeSafetensors(path("model.safetensors"),
                   {f32Tensor("w", {3},
                              {1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8),
                               1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -16)})});
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto w = materialize(*store, "w", WeightDType::BF16, {3});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(asU16(*w), (std::vector<uint16_t>{0x3F80, 0x3F82, 0x3F81}));
}

TEST_F(SafetensorsTest, OpenSingleFilePathAndMove) {
  writeSafetensors(path("weights.safetensors"), {f32Tensor("x", {2}, {1.5f, 2.5f})});
  auto opened = WeightStore::open(path("weights.safetensors"));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  WeightStore store = std::move(*opened);
  const TensorView *x = store.find("x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->file, path("weights.safetensors"));
  WeightStore moved = std::move(store);
  auto v = materialize(moved, "x", WeightDType::F32, {2});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(asF32(*v), (std::vector<float>{1.5f, 2.5f}));
}

TEST_F(SafetensorsTest, ShardedWithIndex) {
  writeSafetensors(path("model-00001-of-00002.safetensors"),
                   {bf16Tensor("layers.0.w", {2}, {1, 2}), f32Tensor("layers.0.b", {1}, {3})});
  writeSafetensors(path("model-00002-of-00002.safetensors"),
                   {f16Tensor("layers.1.w", {2}, {4, 5})});
  writeText(path("model.safetensors.index.json"), R"({
    "metadata": {"total_size": 14},
    "weight_map": {
      "layers.0.w": "model-00001-of-00002.safetensors",
      "layers.0.b": "model-00001-of-00002.safetensors",
      "layers.1.w": "model-00002-of-00002.safetensors"
    }})");
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(store->size(), 3u);
  EXPECT_EQ(store->find("layers.1.w")->file, path("model-00002-of-00002.safetensors"));
  auto w1 = materialize(*store, "layers.1.w", WeightDType::F32, {2});
  ASSERT_TRUE(w1.ok());
  EXPECT_EQ(asF32(*w1), (std::vector<float>{4, 5}));
  auto w0 = materialize(*store, "layers.0.w", WeightDType::F32, {2});
  ASSERT_TRUE(w0.ok());
  EXPECT_EQ(asF32(*w0), (std::vector<float>{1, 2}));
}

TEST_F(SafetensorsTest, IndexErrors) {
  writeSafetensors(path("shard1.safetensors"), {f32Tensor("a", {1}, {1})});
  writeText(path("model.safetensors.index.json"),
            R"({"weight_map": {"a": "shard1.safetensors", "b": "shard2.safetensors"}})");
  auto missingShard = WeightStore::open(dir_);
  ASSERT_FALSE(missingShard.ok());
  EXPECT_TRUE(contains(missingShard.status().message(), "shard2.safetensors"));
  EXPECT_TRUE(contains(missingShard.status().message(), "does not exist"));

  writeText(path("model.safetensors.index.json"),
            R"({"weight_map": {"a": "shard1.safetensors", "b": "shard1.safetensors"}})");
  auto missingTensor = WeightStore::open(dir_);
  ASSERT_FALSE(missingTensor.ok());
  EXPECT_TRUE(contains(missingTensor.status().message(), "'b'"));
  EXPECT_TRUE(contains(missingTensor.status().message(), "does not contain it"));

  writeText(path("model.safetensors.index.json"), "{not json");
  auto badJson = WeightStore::open(dir_);
  ASSERT_FALSE(badJson.ok());
  EXPECT_TRUE(contains(badJson.status().message(), "model.safetensors.index.json"));

  // The same tensor in two shards.
  writeSafetensors(path("shard2.safetensors"), {f32Tensor("a", {1}, {2})});
  writeText(path("model.safetensors.index.json"),
            R"({"weight_map": {"a": "shard1.safetensors", "c": "shard2.safetensors"}})");
  auto dup = WeightStore::open(dir_);
  ASSERT_FALSE(dup.ok());
  EXPECT_TRUE(contains(dup.status().message(), "'a'"));
}

TEST_F(SafetensorsTest, NoCheckpointInDirectory) {
  auto store = WeightStore::open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(contains(store.status().message(), dir_));
  EXPECT_TRUE(contains(store.status().message(), "model.safetensors"));
  auto none = WeightStore::open(path("does-not-exist"));
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(contains(none.status().message(), "does-not-exist"));
}

TEST_F(SafetensorsTest, TruncatedFile) {
  writeSafetensors(path("model.safetensors"),
                   {f32Tensor("first", {2}, {1, 2}), f32Tensor("second", {4}, {1, 2, 3, 4})},
                   /*truncateBy=*/3);
  auto store = WeightStore::open(dir_);
  ASSERT_FALSE(store.ok());
  const std::string &msg = store.status().message();
  EXPECT_TRUE(contains(msg, path("model.safetensors"))) << msg;
  EXPECT_TRUE(contains(msg, "truncated")) << msg;
  EXPECT_TRUE(contains(msg, "'second'")) << msg;

  // Cut inside the header.
  writeSafetensors(path("model.safetensors"), {f32Tensor("first", {2}, {1, 2})}, 60);
  auto cut = WeightStore::open(dir_);
  ASSERT_FALSE(cut.ok());
  EXPECT_TRUE(contains(cut.status().message(), "truncated")) << cut.status().message();

  writeText(path("model.safetensors"), "abc");
  auto tiny = WeightStore::open(dir_);
  ASSERT_FALSE(tiny.ok());
  EXPECT_TRUE(contains(tiny.status().message(), path("model.safetensors")));
}

TEST_F(SafetensorsTest, NotSafetensors) {
  std::string garbage(8, '\0');
  garbage[0] = 4;
  garbage += "xyz!";
  writeText(path("model.safetensors"), garbage);
  auto store = WeightStore::open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(contains(store.status().message(), "JSON")) << store.status().message();
}

TEST_F(SafetensorsTest, UnsupportedDTypeNamesTensor) {
  writeSafetensors(path("model.safetensors"),
                   {f32Tensor("ok", {1}, {1}), {"ids", "I64", {2}, std::vector<uint8_t>(16)}});
  auto store = WeightStore::open(dir_);
  ASSERT_FALSE(store.ok());
  const std::string &msg = store.status().message();
  EXPECT_TRUE(contains(msg, "'ids'")) << msg;
  EXPECT_TRUE(contains(msg, "I64")) << msg;
  EXPECT_TRUE(contains(msg, path("model.safetensors"))) << msg;
}

TEST_F(SafetensorsTest, OffsetsThatDoNotMatchShape) {
  RawTensor bad = f32Tensor("w", {3}, {1, 2});  // 8 bytes for a [3] f32 tensor
  writeSafetensors(path("model.safetensors"), {bad});
  auto store = WeightStore::open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(contains(store.status().message(), "'w'")) << store.status().message();
}

TEST_F(SafetensorsTest, ExpertStacking) {
  writeSafetensors(path("model.safetensors"),
                   {bf16Tensor("moe.experts.0.up", {2, 2}, {1, 2, 3, 4}),
                    bf16Tensor("moe.experts.1.up", {2, 2}, {5, 6, 7, 8}),
                    f32Tensor("moe.experts.2.up", {2, 2}, {9, 10, 11, 12})});
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto stacked = materialize(*store, "moe.experts.{e}.up", WeightDType::F32, {3, 2, 2});
  ASSERT_TRUE(stacked.ok()) << stacked.status().message();
  EXPECT_EQ(asF32(*stacked), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  auto two = materialize(*store, "moe.experts.{e}.up", WeightDType::BF16, {2, 2, 2});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(asU16(*two)[4], f32ToBF16(5.0f));

  auto tooMany = materialize(*store, "moe.experts.{e}.up", WeightDType::F32, {4, 2, 2});
  ASSERT_FALSE(tooMany.ok());
  EXPECT_TRUE(contains(tooMany.status().message(), "moe.experts.3.up"))
      << tooMany.status().message();
  auto wrongShape = materialize(*store, "moe.experts.{e}.up", WeightDType::F32, {3, 4});
  ASSERT_FALSE(wrongShape.ok());
  EXPECT_TRUE(contains(wrongShape.status().message(), "moe.experts.0.up"));
  EXPECT_TRUE(contains(wrongShape.status().message(), "[2, 2]"));
  auto noCount = materialize(*store, "moe.experts.{e}.up", WeightDType::F32, {});
  ASSERT_FALSE(noCount.ok());
}

TEST_F(SafetensorsTest, MaterializeErrors) {
  writeSafetensors(path("model.safetensors"), {f32Tensor("w", {2, 3}, {1, 2, 3, 4, 5, 6})});
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok());
  auto missing = materialize(*store, "v", WeightDType::F32, {2});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.status().message(), "'v'"));
  EXPECT_TRUE(contains(missing.status().message(), "missing"));
  auto shape = materialize(*store, "w", WeightDType::F32, {3, 2});
  ASSERT_FALSE(shape.ok());
  EXPECT_TRUE(contains(shape.status().message(), "[2, 3]"));
  EXPECT_TRUE(contains(shape.status().message(), "[3, 2]"));
}

TEST_F(SafetensorsTest, CheckBindingsReportsEverythingAtOnce) {
  writeSafetensors(path("model.safetensors"),
                   {f32Tensor("norm.weight", {4}, {1, 1, 1, 1}),
                    f32Tensor("proj.weight", {2, 3}, {1, 2, 3, 4, 5, 6}),
                    f32Tensor("stray.weight", {1}, {0}),
                    f32Tensor("experts.0.up", {2}, {1, 2}),
                    f32Tensor("experts.1.up", {2}, {3, 4}),
                    f32Tensor("experts.0.down", {2}, {1, 2}),
                    f32Tensor("experts.1.down", {3}, {1, 2, 3})});
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().message();

  std::vector<WeightSpec> good = {{"norm.weight", WeightDType::F32, {4}},
                                  {"proj.weight", WeightDType::BF16, {2, 3}},
                                  {"stray.weight", WeightDType::F32, {1}},
                                  {"experts.{e}.up", WeightDType::BF16, {2, 2}},
                                  {"experts.0.down", WeightDType::F32, {2}},
                                  {"experts.1.down", WeightDType::F32, {3}}};
  Status ok = checkBindings(*store, good);
  EXPECT_TRUE(ok.ok()) << ok.message();

  std::vector<WeightSpec> bad = {{"norm.weight", WeightDType::F32, {4}},
                                 {"proj.weight", WeightDType::BF16, {3, 2}},    // wrong shape
                                 {"lm_head.weight", WeightDType::BF16, {8, 4}},  // missing
                                 {"experts.{e}.up", WeightDType::BF16, {3, 2}},  // expert 2 missing
                                 {"experts.{e}.down", WeightDType::F32, {2, 2}}};  // 1: [3]
  Status s = checkBindings(*store, bad);
  ASSERT_FALSE(s.ok());
  const std::string &msg = s.message();
  EXPECT_TRUE(contains(msg, dir_)) << msg;
  EXPECT_TRUE(contains(msg, "lm_head.weight [8, 4]")) << msg;
  EXPECT_TRUE(contains(msg, "experts.2.up [2]")) << msg;
  EXPECT_TRUE(contains(msg, "proj.weight expected [3, 2], found [2, 3]")) << msg;
  EXPECT_TRUE(contains(msg, "experts.1.down expected [2], found [3]")) << msg;
  EXPECT_TRUE(contains(msg, "unexpected")) << msg;
  EXPECT_TRUE(contains(msg, "stray.weight")) << msg;
  EXPECT_TRUE(contains(msg, "2 missing")) << msg;
  EXPECT_TRUE(contains(msg, "2 with a wrong shape")) << msg;
  EXPECT_TRUE(contains(msg, "1 unexpected")) << msg;
  EXPECT_FALSE(contains(msg, "norm.weight")) << msg;
}

// A rank's slice of a tensor-parallel weight: pieces of one dimension, concatenated, read from
// the checkpoint (converted after slicing), also per expert of a stacked binding.
TEST_F(SafetensorsTest, SlicesOfOneDimension) {
  writeSafetensors(path("model.safetensors"),
                   {f32Tensor("in_proj", {6, 2}, {0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51}),
                    bf16Tensor("out_proj", {2, 4}, {0, 1, 2, 3, 4, 5, 6, 7}),
                    f32Tensor("moe.experts.0.down", {2, 4}, {0, 1, 2, 3, 4, 5, 6, 7}),
                    f32Tensor("moe.experts.1.down", {2, 4}, {8, 9, 10, 11, 12, 13, 14, 15})});
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  // Rows 1 and 4..5 (a z row and two dt rows, say).
  WeightSlice rows{0, {{1, 1}, {4, 2}}};
  auto inProj = materialize(*store, "in_proj", WeightDType::F32, {6, 2}, &rows);
  ASSERT_TRUE(inProj.ok()) << inProj.status().message();
  EXPECT_EQ(asF32(*inProj), (std::vector<float>{10, 11, 40, 41, 50, 51}));
  // Columns 2..3 of a bf16 tensor, read as f32.
  WeightSlice columns{1, {{2, 2}}};
  auto outProj = materialize(*store, "out_proj", WeightDType::F32, {2, 4}, &columns);
  ASSERT_TRUE(outProj.ok()) << outProj.status().message();
  EXPECT_EQ(asF32(*outProj), (std::vector<float>{2, 3, 6, 7}));
  // Stacked experts [2, 2, 4]: columns 1..2 of every expert's [2, 4] tensor.
  WeightSlice expertColumns{2, {{1, 2}}};
  auto down = materialize(*store, "moe.experts.{e}.down", WeightDType::F32, {2, 2, 4},
                          &expertColumns);
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(asF32(*down), (std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14}));
  // Outside the dimension: refused.
  WeightSlice outside{0, {{5, 2}}};
  EXPECT_FALSE(materialize(*store, "in_proj", WeightDType::F32, {6, 2}, &outside).ok());
  WeightSlice beyondExperts{0, {{1, 2}}};
  EXPECT_FALSE(materialize(*store, "moe.experts.{e}.down", WeightDType::F32, {2, 2, 4},
                           &beyondExperts)
                   .ok());
}

// An expert-parallel rank's slice: experts along dimension 0 of a stacked binding (the tensors
// of those experts only), times its columns of each; and two dimensions of one tensor.
TEST_F(SafetensorsTest, SlicesOfSeveralDimensions) {
  std::vector<RawTensor> tensors;
  for (int e = 0; e < 3; ++e) {
    std::vector<float> values(8);
    for (int i = 0; i < 8; ++i)
      values[size_t(i)] = float(8 * e + i);
    tensors.push_back(f32Tensor("moe.experts." + std::to_string(e) + ".down", {2, 4}, values));
  }
  tensors.push_back(bf16Tensor("w", {3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  writeSafetensors(path("model.safetensors"), tensors);
  auto store = WeightStore::open(dir_);
  ASSERT_TRUE(store.ok()) << store.status().message();
  // Experts 1..2, columns 2..3 of each.
  auto down = materialize(*store, "moe.experts.{e}.down", WeightDType::F32, {3, 2, 4},
                          std::vector<WeightSlice>{{0, {{1, 2}}}, {2, {{2, 2}}}});
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(asF32(*down), (std::vector<float>{10, 11, 14, 15, 18, 19, 22, 23}));
  // Expert 2 whole.
  auto one = materialize(*store, "moe.experts.{e}.down", WeightDType::F32, {3, 2, 4},
                         std::vector<WeightSlice>{{0, {{2, 1}}}});
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(asF32(*one), (std::vector<float>{16, 17, 18, 19, 20, 21, 22, 23}));
  // Rows 0 and 2, column 1 and columns 3 of a bf16 tensor, read as f32.
  auto w = materialize(*store, "w", WeightDType::F32, {3, 4},
                       std::vector<WeightSlice>{{0, {{0, 1}, {2, 1}}}, {1, {{1, 1}, {3, 1}}}});
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_EQ(asF32(*w), (std::vector<float>{1, 3, 9, 11}));
  // Dimensions out of order, or an expert range past the experts: refused.
  EXPECT_FALSE(materialize(*store, "w", WeightDType::F32, {3, 4},
                           std::vector<WeightSlice>{{1, {{0, 1}}}, {0, {{0, 1}}}})
                   .ok());
  EXPECT_FALSE(materialize(*store, "moe.experts.{e}.down", WeightDType::F32, {3, 2, 4},
                           std::vector<WeightSlice>{{0, {{2, 2}}}})
                   .ok());
}
