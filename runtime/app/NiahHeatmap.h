// The heat map of `slrun niah --heatmap`: accuracy by context length (columns) and needle depth
// (rows, 0% at the top), red (0%) through yellow to green (100%), each cell's percentage, the
// axis labels and a title drawn with a 5x7 bitmap font at twice its size.
#pragma once

#include "runtime/io/Png.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sl::runtime {

struct Heatmap {
  std::string title, subtitle;
  std::vector<std::string> columns;  // length labels ("1K", "16K", "1M")
  std::vector<std::string> rows;     // depth labels ("0%", "50%")
  std::vector<std::vector<double>> accuracy;  // [row][column] in [0, 1]
};

// Where the grid landed: cell (r, c) covers x in [gridX + c * cellWidth, + cellWidth) and y in
// [gridY + r * cellHeight, + cellHeight); its value is printed in its middle.
struct HeatmapLayout {
  int width = 0, height = 0, gridX = 0, gridY = 0, cellWidth = 0, cellHeight = 0;
};

io::RgbImage drawHeatmap(const Heatmap &map, HeatmapLayout *layout);

// The colour of an accuracy in [0, 1]: (215, 48, 39) at 0, (254, 224, 139) at 0.5, (26, 152, 80)
// at 1, linear in between (channels rounded to nearest).
std::array<uint8_t, 3> accuracyColour(double accuracy);

// 1024 -> "1K", 16384 -> "16K", 1048576 -> "1M", 1536 -> "1.5K", 300 -> "300".
std::string lengthLabel(int64_t tokens);

}  // namespace sl::runtime
