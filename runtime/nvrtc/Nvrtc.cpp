#include "runtime/nvrtc/Nvrtc.h"

#include <nvrtc.h>

namespace sl::nvrtc {

std::string version() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS)
    return "unknown";
  return std::to_string(major) + "." + std::to_string(minor);
}

StatusOr<Compiled> compile(const std::string &name, const std::string &source,
                           const std::vector<Header> &headers, const std::string &arch,
                           const std::vector<std::string> &extraOptions) {
  std::vector<const char *> headerTexts, headerNames;
  for (const Header &header : headers) {
    headerTexts.push_back(header.text.c_str());
    headerNames.push_back(header.name.c_str());
  }
  nvrtcProgram program;
  nvrtcResult result =
      nvrtcCreateProgram(&program, source.c_str(), name.c_str(), static_cast<int>(headers.size()),
                         headerTexts.data(), headerNames.data());
  if (result != NVRTC_SUCCESS)
    return Status::error("nvrtcCreateProgram failed for " + name + ": " +
                         nvrtcGetErrorString(result));

  std::vector<std::string> options = {"-arch=" + arch, "-std=c++17", "-default-device",
                                      "-lineinfo"};
  options.insert(options.end(), extraOptions.begin(), extraOptions.end());
  std::vector<const char *> optionPointers;
  for (const std::string &option : options)
    optionPointers.push_back(option.c_str());
  result = nvrtcCompileProgram(program, static_cast<int>(optionPointers.size()),
                               optionPointers.data());

  Compiled compiled;
  compiled.arch = arch;
  size_t logSize = 0;
  if (nvrtcGetProgramLogSize(program, &logSize) == NVRTC_SUCCESS && logSize > 1) {
    compiled.log.resize(logSize);
    nvrtcGetProgramLog(program, compiled.log.data());
    compiled.log.resize(logSize - 1);
  }
  if (result != NVRTC_SUCCESS) {
    nvrtcDestroyProgram(&program);
    return Status::error("NVRTC failed to compile kernel " + name + " for " + arch + " (" +
                         nvrtcGetErrorString(result) + "):\n" + compiled.log);
  }
  size_t cubinSize = 0;
  result = nvrtcGetCUBINSize(program, &cubinSize);
  if (result == NVRTC_SUCCESS) {
    compiled.cubin.resize(cubinSize);
    result = nvrtcGetCUBIN(program, compiled.cubin.data());
  }
  nvrtcDestroyProgram(&program);
  if (result != NVRTC_SUCCESS || cubinSize == 0)
    return Status::error("NVRTC produced no cubin for kernel " + name + " on " + arch +
                         " (is it a real architecture such as sm_90a, not compute_90a?)");
  return compiled;
}

}  // namespace sl::nvrtc
