#include "runtime/cuda/Nccl.h"

#include "runtime/cuda/Symbols.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>

namespace sl::cuda {

namespace {
std::string executableDirectory() {
  std::error_code error;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : exe.parent_path().string();
}

// The lib directory of the nvidia-nccl wheel that `python3` imports, or "" (no python3, no
// wheel). The package is a namespace package: its first path entry.
std::string wheelLibrary() {
  FILE *pipe = ::popen("python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' "
                       "2>/dev/null",
                       "r");
  if (!pipe)
    return "";
  char line[4096] = {0};
  std::string directory = std::fgets(line, sizeof(line), pipe) ? line : "";
  ::pclose(pipe);
  while (!directory.empty() && (directory.back() == '\n' || directory.back() == '\r'))
    directory.pop_back();
  return directory.empty() ? "" : directory + "/lib/libnccl.so.2";
}
}  // namespace

std::vector<std::string> Nccl::candidates() {
  if (const char *path = std::getenv("SL_NCCL_LIBRARY"); path && *path)
    return {path};
  std::vector<std::string> found;
  if (std::string dir = executableDirectory(); !dir.empty()) {
    found.push_back(dir + "/libnccl.so.2");
    found.push_back(dir + "/../lib/libnccl.so.2");
  }
  found.push_back("libnccl.so.2");
  if (std::string wheel = wheelLibrary(); !wheel.empty())
    found.push_back(wheel);
  return found;
}

StatusOr<Nccl> Nccl::open(const std::vector<std::string> &candidates) {
  std::string tried;
  for (const std::string &path : candidates) {
    // A bare name goes through the loader's search path; a path must exist.
    if (path.find('/') != std::string::npos && !std::filesystem::exists(path)) {
      tried += "\n  " + path + ": no such file";
      continue;
    }
    void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      const char *why = dlerror();
      tried += "\n  " + path + ": " + (why ? why : "dlopen failed");
      continue;
    }
    Nccl nccl{};
    Symbols symbols(library);
    symbols.load(nccl.ncclGetVersion, "ncclGetVersion");
    symbols.load(nccl.ncclGetErrorString, "ncclGetErrorString");
    symbols.load(nccl.ncclCommInitAll, "ncclCommInitAll");
    symbols.load(nccl.ncclCommDestroy, "ncclCommDestroy");
    symbols.load(nccl.ncclCommAbort, "ncclCommAbort");
    symbols.load(nccl.ncclAllReduce, "ncclAllReduce");
    if (!symbols.missing().empty()) {
      tried += "\n  " + path + ": lacks " + symbols.missing();
      dlclose(library);
      continue;
    }
    // The file the loader took (a bare name resolves through its search path).
    Dl_info info{};
    nccl.path = dladdr(reinterpret_cast<void *>(nccl.ncclGetVersion), &info) && info.dli_fname
                    ? info.dli_fname
                    : path;
    if (Status status = nccl.check(nccl.ncclGetVersion(&nccl.version), "ncclGetVersion");
        !status) {
      tried += "\n  " + path + ": " + status.message();
      dlclose(library);
      continue;
    }
    // The ABI of the declarations above is NCCL 2's (bfloat16 since 2.10).
    if (nccl.version < 21000) {
      tried += "\n  " + path + ": NCCL " + nccl.versionText() + " is older than 2.10";
      dlclose(library);
      continue;
    }
    return nccl;
  }
  return Status::error("NCCL (libnccl.so.2) was not found; install its wheel "
                       "(python3 -m pip install nvidia-nccl-cu13) or set SL_NCCL_LIBRARY to "
                       "the library. Tried:" +
                       (tried.empty() ? std::string(" nothing") : tried));
}

StatusOr<const Nccl *> Nccl::get() {
  static const StatusOr<Nccl> nccl = open(candidates());
  if (!nccl)
    return nccl.status();
  return &nccl.value();
}

Status Nccl::check(Result result, const char *call, const std::string &what) const {
  if (result == 0)
    return Status::success();
  const char *text = ncclGetErrorString ? ncclGetErrorString(result) : nullptr;
  return Status::error(std::string(call) + " failed: " + (text ? text : "unknown NCCL error") +
                       " (" + std::to_string(result) + ")" +
                       (what.empty() ? "" : " [" + what + "]"));
}

std::string Nccl::versionText() const {
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
}

}  // namespace sl::cuda
