// The PNG writer (runtime/io/Png.h), read back here by an independent minimal decoder (chunk
// walk, CRC check, zlib inflate, filter type 0), and the heat map of slrun niah drawn with it.
#include "runtime/app/NiahHeatmap.h"
#include "runtime/io/Png.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace sl::io {
namespace {

uint32_t readU32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

struct Decoded {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  std::vector<std::string> chunks;
};

// Accepts exactly what the writer promises: 8-bit RGB, no interlace, filter type 0 rows.
::testing::AssertionResult decode(const std::vector<uint8_t> &png, Decoded *out) {
  const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (png.size() < 8 || !std::equal(signature, signature + 8, png.begin()))
    return ::testing::AssertionFailure() << "no PNG signature";
  std::vector<uint8_t> idat;
  for (size_t at = 8; at < png.size();) {
    if (at + 12 > png.size())
      return ::testing::AssertionFailure() << "truncated chunk at " << at;
    const uint32_t length = readU32(&png[at]);
    const std::string type(png.begin() + at + 4, png.begin() + at + 8);
    if (at + 12 + length > png.size())
      return ::testing::AssertionFailure() << "chunk " << type << " past the end";
    const uint32_t crc = readU32(&png[at + 8 + length]);
    if (crc != uint32_t(crc32(0, &png[at + 4], 4 + length)))
      return ::testing::AssertionFailure() << "bad CRC of " << type;
    out->chunks.push_back(type);
    const uint8_t *data = &png[at + 8];
    if (type == "IHDR") {
      out->width = int(readU32(data));
      out->height = int(readU32(data + 4));
      if (data[8] != 8 || data[9] != 2 || data[10] || data[11] || data[12])
        return ::testing::AssertionFailure() << "not 8-bit RGB without interlace";
    } else if (type == "IDAT") {
      idat.insert(idat.end(), data, data + length);
    }
    at += 12 + length;
  }
  const size_t stride = size_t(out->width) * 3;
  std::vector<uint8_t> raw((stride + 1) * size_t(out->height));
  uLongf size = uLongf(raw.size());
  if (uncompress(raw.data(), &size, idat.data(), uLong(idat.size())) != Z_OK || size != raw.size())
    return ::testing::AssertionFailure() << "IDAT does not inflate to the image's rows";
  for (int y = 0; y < out->height; ++y) {
    if (raw[size_t(y) * (stride + 1)] != 0)
      return ::testing::AssertionFailure() << "row " << y << " has a filter";
    out->rgb.insert(out->rgb.end(), raw.begin() + ptrdiff_t(y * (stride + 1) + 1),
                    raw.begin() + ptrdiff_t((y + 1) * (stride + 1)));
  }
  return ::testing::AssertionSuccess();
}

TEST(PngTest, RoundTrip) {
  RgbImage image(37, 5, 10, 20, 30);
  image.set(0, 0, 255, 0, 0);
  image.set(36, 4, 0, 0, 255);
  image.fill(10, 1, 3, 2, 1, 2, 3);
  image.set(-1, 2, 9, 9, 9);   // outside: ignored
  image.set(37, 0, 9, 9, 9);
  auto png = encodePng(image);
  ASSERT_TRUE(png) << png.status().message();
  Decoded decoded;
  ASSERT_TRUE(decode(*png, &decoded));
  EXPECT_EQ(decoded.chunks, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  EXPECT_EQ(decoded.width, 37);
  EXPECT_EQ(decoded.height, 5);
  EXPECT_EQ(decoded.rgb, image.pixels);
  EXPECT_EQ(decoded.rgb[0], 255);
  EXPECT_EQ(decoded.rgb[(1 * 37 + 11) * 3 + 2], 3);
  EXPECT_EQ(decoded.rgb[(2 * 37 + 0) * 3], 10);
}

TEST(PngTest, EmptyImageIsAnError) {
  RgbImage image(0, 4);
  auto png = encodePng(image);
  ASSERT_FALSE(png);
  EXPECT_NE(png.status().message().find("0 x 4"), std::string::npos);
}

TEST(PngTest, WriteErrorsNameThePath) {
  RgbImage image(2, 2);
  Status status = writePng("/nonexistent-dir/x.png", image);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("/nonexistent-dir/x.png: cannot write"), std::string::npos);
  const std::string path = ::testing::TempDir() + "png-test.png";
  ASSERT_TRUE(writePng(path, image));
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  Decoded decoded;
  EXPECT_TRUE(decode(bytes, &decoded));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sl::io

namespace sl::runtime {
namespace {

TEST(NiahHeatmapTest, Colours) {
  EXPECT_EQ(accuracyColour(0), (std::array<uint8_t, 3>{215, 48, 39}));
  EXPECT_EQ(accuracyColour(0.5), (std::array<uint8_t, 3>{254, 224, 139}));
  EXPECT_EQ(accuracyColour(1), (std::array<uint8_t, 3>{26, 152, 80}));
  EXPECT_EQ(accuracyColour(0.25), (std::array<uint8_t, 3>{235, 136, 89}));
  EXPECT_EQ(accuracyColour(2), accuracyColour(1));  // clamped
}

TEST(NiahHeatmapTest, LengthLabels) {
  EXPECT_EQ(lengthLabel(1024), "1K");
  EXPECT_EQ(lengthLabel(16384), "16K");
  EXPECT_EQ(lengthLabel(1048576), "1M");
  EXPECT_EQ(lengthLabel(10485760), "10M");
  EXPECT_EQ(lengthLabel(1536), "1.5K");
  EXPECT_EQ(lengthLabel(300), "300");
  EXPECT_EQ(lengthLabel(1000), "1000");
}

TEST(NiahHeatmapTest, CellsHaveTheirColours) {
  Heatmap map;
  map.title = "title";
  map.subtitle = "sub";
  map.columns = {"1K", "4K", "16K"};
  map.rows = {"0%", "100%"};
  map.accuracy = {{0, 0.5, 1}, {0.25, 1, 0}};
  HeatmapLayout layout;
  io::RgbImage image = drawHeatmap(map, &layout);
  EXPECT_EQ(image.width, layout.width);
  EXPECT_EQ(image.height, layout.height);
  ASSERT_GE(layout.width, layout.gridX + 3 * layout.cellWidth);
  ASSERT_GE(layout.height, layout.gridY + 2 * layout.cellHeight);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) {
      // A corner of the cell, away from the printed value.
      const int x = layout.gridX + c * layout.cellWidth + 2, y = layout.gridY + r * layout.cellHeight + 2;
      const uint8_t *p = &image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3];
      EXPECT_EQ((std::array<uint8_t, 3>{p[0], p[1], p[2]}), accuracyColour(map.accuracy[r][c]))
          << r << " " << c;
    }
  // The value is printed in the cell: its middle row holds pixels of another colour.
  int ink = 0;
  const int y = layout.gridY + layout.cellHeight / 2;
  for (int x = layout.gridX; x < layout.gridX + layout.cellWidth - 1; ++x)
    ink += image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3] != 215;
  EXPECT_GT(ink, 4);
}

}  // namespace
}  // namespace sl::runtime
