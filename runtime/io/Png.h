// PNG files of 8-bit RGB images: the signature, IHDR, one IDAT (zlib deflate of the rows, each
// with filter type 0) and IEND, every chunk with its CRC-32 (docs/niah.md: the heat map).
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::io {

struct RgbImage {
  RgbImage(int width, int height, uint8_t r = 255, uint8_t g = 255, uint8_t b = 255);
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes per pixel

  // Pixels outside the image are ignored (drawing may run past an edge).
  void set(int x, int y, uint8_t r, uint8_t g, uint8_t b);
  void fill(int x, int y, int w, int h, uint8_t r, uint8_t g, uint8_t b);
};

// The bytes of the PNG file of `image` (width and height in [1, 2^24]).
StatusOr<std::vector<uint8_t>> encodePng(const RgbImage &image);
// Writes it to `path` (a temporary file renamed into place); errors name the path.
Status writePng(const std::string &path, const RgbImage &image);

}  // namespace sl::io
