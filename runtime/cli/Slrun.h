// `slrun`: runs compiled artifacts (logits, generate, run). The tool's main calls this.
#pragma once

namespace sl::runtime {
int runSlrun(int argc, char **argv);
}  // namespace sl::runtime
