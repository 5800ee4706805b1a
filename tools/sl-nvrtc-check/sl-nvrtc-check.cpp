// sl-nvrtc-check: compiles CUDA sources against the embedded kernel library with NVRTC for each
// requested target and reports the cubin sizes; exits 1 with NVRTC's log on any failure.
// Usage: sl-nvrtc-check FILE.cu... [--arch=sm_90a,sm_100a] [--kernels=DIR]
// --kernels=DIR reads the library headers (*.cuh) from DIR instead of the copy embedded at
// build time, so kernel work needs no rebuild.
#include "runtime/kernels/KernelLibrary.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char **argv) {
  std::vector<std::string> archs = {"sm_90a", "sm_100a"}, files;
  std::vector<sl::nvrtc::Header> headers = sl::kernels::libraryHeaders();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--kernels=", 0) == 0) {
      headers.clear();
      std::error_code error;
      for (const auto &entry : std::filesystem::directory_iterator(arg.substr(10), error)) {
        if (entry.path().extension() != ".cuh")
          continue;
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        headers.push_back({entry.path().filename().string(), text.str()});
      }
      if (error || headers.empty()) {
        std::cerr << "sl-nvrtc-check: no *.cuh headers readable in " << arg.substr(10) << "\n";
        return 2;
      }
    } else if (arg.rfind("--arch=", 0) == 0) {
      archs.clear();
      std::stringstream list(arg.substr(7));
      for (std::string arch; std::getline(list, arch, ',');)
        archs.push_back(arch);
    } else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: sl-nvrtc-check FILE.cu... [--arch=sm_90a,sm_100a] [--kernels=DIR]\n";
      return 0;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::cerr << "sl-nvrtc-check: no input file (usage: sl-nvrtc-check FILE.cu... "
                 "[--arch=sm_90a,sm_100a])\n";
    return 2;
  }
  int failures = 0;
  for (const std::string &file : files) {
    std::ifstream in(file);
    if (!in) {
      std::cerr << "sl-nvrtc-check: cannot read " << file << "\n";
      ++failures;
      continue;
    }
    std::stringstream source;
    source << in.rdbuf();
    for (const std::string &arch : archs) {
      auto compiled = sl::nvrtc::compile(file, source.str(), headers, arch);
      if (!compiled) {
        std::cerr << compiled.status().message() << "\n";
        ++failures;
        continue;
      }
      std::cout << file << ": " << arch << " ok (" << compiled->cubin.size() << " bytes)\n";
      if (!compiled->log.empty())
        std::cout << compiled->log << "\n";
    }
  }
  return failures ? 1 : 0;
}
