// slrun niah: the needle-in-a-haystack benchmark (docs/niah.md). Prompts of the task file's
// format at each length and depth, answered greedily by the model in this process (prefix reuse
// across depths through the conversation's checkpoints) or by a server (--url); the accuracy
// table on stdout, JSON lines and a PNG heat map.
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::runtime {

// argv holds the command's options only (after "slrun niah").
int niahCommand(int argc, char **argv);

// --lengths: comma-separated token counts (a K or M suffix multiplies by 1024 or 1048576),
// distinct, each in [1, 2^31 - 1].
StatusOr<std::vector<int64_t>> parseNiahLengths(const std::string &text);
// --depths: comma-separated values in [0, 1], distinct, returned ascending; or one integer
// N >= 2: N evenly spaced depths from 0 to 1.
StatusOr<std::vector<double>> parseNiahDepths(const std::string &text);

}  // namespace sl::runtime
