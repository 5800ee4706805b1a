#include "runtime/io/Png.h"

#include "runtime/io/Files.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace sl::io {

RgbImage::RgbImage(int width, int height, uint8_t r, uint8_t g, uint8_t b)
    : width(std::max(width, 0)), height(std::max(height, 0)) {
  pixels.resize(size_t(this->width) * size_t(this->height) * 3);
  fill(0, 0, this->width, this->height, r, g, b);
}

void RgbImage::set(int x, int y, uint8_t r, uint8_t g, uint8_t b) {
  if (x < 0 || y < 0 || x >= width || y >= height)
    return;
  uint8_t *p = &pixels[(size_t(y) * size_t(width) + size_t(x)) * 3];
  p[0] = r, p[1] = g, p[2] = b;
}

void RgbImage::fill(int x, int y, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  for (int row = std::max(y, 0); row < std::min(y + h, height); ++row)
    for (int col = std::max(x, 0); col < std::min(x + w, width); ++col)
      set(col, row, r, g, b);
}

namespace {

void putU32(std::vector<uint8_t> &out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(uint8_t(value >> shift));
}

// length, type, data, CRC-32 of type + data (PNG's chunk layout; big-endian numbers).
void putChunk(std::vector<uint8_t> &out, const char type[4], const std::vector<uint8_t> &data) {
  putU32(out, uint32_t(data.size()));
  const size_t typeAt = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + typeAt, uInt(4 + data.size()));
  putU32(out, uint32_t(crc));
}

}  // namespace

StatusOr<std::vector<uint8_t>> encodePng(const RgbImage &image) {
  constexpr int kMaxSide = 1 << 24;
  if (image.width < 1 || image.height < 1 || image.width > kMaxSide || image.height > kMaxSide ||
      image.pixels.size() != size_t(image.width) * size_t(image.height) * 3)
    return Status::error("PNG: an image of " + std::to_string(image.width) + " x " +
                         std::to_string(image.height) + " pixels cannot be written");
  std::vector<uint8_t> raw;
  const size_t stride = size_t(image.width) * 3;
  raw.reserve((stride + 1) * size_t(image.height));
  for (int y = 0; y < image.height; ++y) {
    raw.push_back(0);  // filter type None: heat maps are flat colours, deflate does the rest
    raw.insert(raw.end(), image.pixels.begin() + ptrdiff_t(y * stride),
               image.pixels.begin() + ptrdiff_t((y + 1) * stride));
  }
  uLongf packedSize = compressBound(uLong(raw.size()));
  std::vector<uint8_t> packed(packedSize);
  if (compress2(packed.data(), &packedSize, raw.data(), uLong(raw.size()), 9) != Z_OK)
    return Status::error("PNG: zlib could not compress the image");
  packed.resize(packedSize);

  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> header;
  putU32(header, uint32_t(image.width));
  putU32(header, uint32_t(image.height));
  header.insert(header.end(), {8, 2, 0, 0, 0});  // 8 bits, RGB, deflate, filter 0, no interlace
  putChunk(out, "IHDR", header);
  putChunk(out, "IDAT", packed);
  putChunk(out, "IEND", {});
  return out;
}

Status writePng(const std::string &path, const RgbImage &image) {
  auto bytes = encodePng(image);
  if (!bytes)
    return Status::error(path + ": " + bytes.status().message());
  return writeFileAtomically(path, path, {{bytes->data(), bytes->size()}});
}

}  // namespace sl::io
