#include "runtime/cuda/CudaExecutor.h"

#include "runtime/core/LaunchArgs.h"
#include "runtime/core/RandomWeights.h"
#include "runtime/nvrtc/Nvrtc.h"
#include "runtime/schema/ArtifactVersion.h"
#include "runtime/support/Version.h"

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unistd.h>

namespace sl::cuda {

using sl::schema::StateKind;

namespace {

uint64_t fnv1a(uint64_t hash, const std::string &text) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash ^ 0xff;  // separates consecutive parts
}

std::filesystem::path cacheDir() {
  if (const char *dir = std::getenv("SLC_CACHE_DIR"); dir && *dir)
    return dir;
  const char *home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : "/tmp") / ".cache" / "slc";
}

}  // namespace

StatusOr<std::vector<char>>
compileCached(const std::string &name, const std::string &source,
              const std::vector<std::pair<std::string, std::string>> &headers,
              const std::string &arch) {
  const char *disable = std::getenv("SLC_DISABLE_CACHE");
  bool useCache = !(disable && std::string(disable) == "1");
  uint64_t key = 1469598103934665603ull;
  key = fnv1a(key, source);
  for (const auto &[headerName, text] : headers)
    key = fnv1a(fnv1a(key, headerName), text);
  key = fnv1a(key, "-arch=" + arch + " -std=c++17 -default-device -lineinfo");
  key = fnv1a(key, nvrtc::version());
  key = fnv1a(key, std::to_string(sl::schema::kSchemaVersion));
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(key));
  std::filesystem::path file = cacheDir() / (name + "." + arch + "." + hex + ".cubin");
  if (useCache) {
    std::ifstream in(file, std::ios::binary);
    if (in)
      return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<nvrtc::Header> nvrtcHeaders;
  for (const auto &[headerName, text] : headers)
    nvrtcHeaders.push_back({headerName, text});
  auto compiled = nvrtc::compile(name + ".cu", source, nvrtcHeaders, arch);
  if (!compiled)
    return compiled.status();
  if (useCache) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    std::filesystem::path temp = file;
    temp += ".tmp." + std::to_string(::getpid());
    std::ofstream out(temp, std::ios::binary);
    out.write(compiled->cubin.data(), static_cast<std::streamsize>(compiled->cubin.size()));
    out.close();
    // A cache that cannot be written is not an error: the cubin is still used.
    if (out)
      std::filesystem::rename(temp, file, error);
    else
      std::filesystem::remove(temp, error);
  }
  return std::move(compiled->cubin);
}

StatusOr<CUdeviceptr> CudaExecutor::allocate(size_t bytes, const std::string &what) {
  CUdeviceptr pointer = 0;
  if (Status status =
          driver_.check(driver_.cuMemAlloc(&pointer, std::max<size_t>(bytes, 256)), "cuMemAlloc",
                        what + ", " + std::to_string(bytes) + " bytes");
      !status)
    return status;
  allocations_.push_back(pointer);
  return pointer;
}

CudaExecutor::~CudaExecutor() {
  for (auto &[name, graph] : graphs_)
    releaseGraph(graph);
  for (CUdeviceptr pointer : allocations_)
    driver_.cuMemFree(pointer);
}

// The context outlives every executor (the primary context is never released), so a session
// may end after the executor that made its state.
CudaExecutor::DeviceState::~DeviceState() {
  driver.cuCtxSetCurrent(context);
  for (CUdeviceptr pointer : allocations)
    driver.cuMemFree(pointer);
}

Status CudaExecutor::fill(CUdeviceptr out, int64_t count, sl::schema::DType dtype, uint64_t seed,
                          uint32_t stream, float scale, float offset, const std::string &what) {
  if (!fills_.count(dtype)) {
    if (dtype != sl::schema::DType::bf16 && dtype != sl::schema::DType::f32)
      return Status::error("synthetic values of " + what + ": dtype is neither bf16 nor f32");
    std::string type = dtype == sl::schema::DType::bf16 ? "slk::bf16" : "float";
    std::string name = dtype == sl::schema::DType::bf16 ? "fill_random_bf16" : "fill_random_f32";
    std::string source = "#include \"sl_random.cuh\"\nextern \"C\" __global__ void "
                         "__launch_bounds__(256)\n" +
                         name + "(" + type +
                         " *out, slk::i64 count, slk::u64 seed, slk::u32 binding, float scale, "
                         "float offset) {\n  slk::fill_random<" +
                         type + ", 256>(out, count, seed, binding, scale, offset);\n}\n";
    auto cubin = compileCached(name, source, headers_, arch_);
    if (!cubin)
      return Status::error(cubin.status().message() +
                           " (an artifact of an older slc lacks sl_random.cuh)");
    CUmodule module;
    CUfunction function;
    if (Status s = driver_.check(driver_.cuModuleLoadData(&module, cubin->data()),
                                 "cuModuleLoadData", name);
        !s)
      return s;
    if (Status s = driver_.check(driver_.cuModuleGetFunction(&function, module, name.c_str()),
                                 "cuModuleGetFunction", name);
        !s)
      return s;
    fills_[dtype] = function;
  }
  int64_t elements = count;
  uint64_t seedArg = seed;
  uint32_t streamArg = stream;
  void *params[] = {&out, &elements, &seedArg, &streamArg, &scale, &offset};
  unsigned blocks = unsigned((count + 256 * 8 - 1) / (256 * 8));
  if (blocks == 0)
    return Status::success();
  return driver_.check(
      driver_.cuLaunchKernel(fills_[dtype], blocks, 1, 1, 256, 1, 1, 0, stream_, params, nullptr),
      "cuLaunchKernel", "fill_random " + what);
}

Status CudaExecutor::synthesizeState(runtime::Session &session, int64_t length, uint64_t seed) {
  if (length < 0 || length > session.capacity())
    return Status::error("cannot synthesise " + std::to_string(length) +
                         " tokens of state in a session of capacity " +
                         std::to_string(session.capacity()));
  if (Status s = driver_.check(driver_.cuCtxSetCurrent(context_), "cuCtxSetCurrent"); !s)
    return s;
  auto stateOr = deviceState(session, /*keepsState=*/false);
  if (!stateOr)
    return stateOr.status();
  DeviceState &state = **stateOr;
  const auto &slots = *artifact_.root().states();
  uint32_t stream = 0x80000000u;  // apart from the weights' streams, as on the host
  for (size_t i = 0; i < slots.size(); ++i) {
    const runtime::StateBuffers &host = session.state(i);
    sl::schema::DType dtype = slots.Get(i)->dtype();
    struct Part { CUdeviceptr pointer; size_t bytes; sl::schema::DType dtype; float scale; };
    for (Part part : {Part{state.k[i], host.kBytes, dtype, 1.0f},
                      Part{state.v[i], host.kBytes, dtype, 1.0f},
                      Part{state.conv[i], host.convBytes, dtype, 1.0f},
                      Part{state.ssm[i], host.ssmBytes, slots.Get(i)->ssm_dtype(), 0.1f}}) {
      uint32_t streamOfPart = stream++;
      if (!part.pointer)
        continue;
      int64_t count = int64_t(part.bytes / runtime::dtypeBytes(part.dtype));
      if (Status s = fill(part.pointer, count, part.dtype, seed, streamOfPart, part.scale, 0.0f,
                          "session state");
          !s)
        return s;
    }
  }
  session.restoreLength(length);
  return driver_.check(driver_.cuStreamSynchronize(stream_), "cuStreamSynchronize",
                       "synthesising session state");
}

StatusOr<std::unique_ptr<CudaExecutor>>
CudaExecutor::create(const runtime::Artifact &artifact,
                     const std::vector<std::vector<uint8_t>> &weights,
                     std::optional<uint64_t> randomSeed) {
  auto driver = Driver::get();
  if (!driver)
    return driver.status();
  const Driver &d = **driver;
  CUdevice device;
  if (Status s = d.check(d.cuDeviceGet(&device, 0), "cuDeviceGet"); !s)
    return s;
  char name[256] = {0};
  d.cuDeviceGetName(name, sizeof(name) - 1, device);
  int major = 0, minor = 0;
  d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  auto plan = artifact.planFor(major, minor);
  if (!plan)
    return Status::error(plan.status().message() + " (" + name + ")");
  std::unique_ptr<CudaExecutor> executor(new CudaExecutor(d, artifact, **plan));
  executor->deviceName_ = name;
  d.cuDeviceGetAttribute(&executor->multiprocessors_, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                         device);
  // Kernels are compiled for the plan's target (sm_90a: the wgmma kernels need the a-variant).
  executor->arch_ = (*plan)->target()->str();
  if (Status s = d.check(d.cuDevicePrimaryCtxRetain(&executor->context_, device),
                         "cuDevicePrimaryCtxRetain");
      !s)
    return s;
  if (Status s = d.check(d.cuCtxSetCurrent(executor->context_), "cuCtxSetCurrent"); !s)
    return s;
  if (Status s = d.check(d.cuStreamCreate(&executor->stream_, 0), "cuStreamCreate"); !s)
    return s;

  // Kernels: the artifact's AOT cubin for this target, else NVRTC through the cache.
  auto &headers = executor->headers_;
  for (const auto *header : *artifact.root().headers())
    headers.push_back({header->name()->str(), header->text()->str()});
  // Only the plan's kernels: another target's may not even build for this GPU.
  std::vector<bool> used(artifact.root().kernels()->size(), false);
  for (const auto *function : *(*plan)->functions())
    for (const auto *launch : *function->launches())
      used[launch->kernel()] = true;
  for (uint32_t k = 0; k < used.size(); ++k) {
    if (!used[k]) {
      executor->functions_.push_back(nullptr);
      continue;
    }
    const auto *kernel = artifact.root().kernels()->Get(k);
    std::string kernelName = kernel->name()->str();
    std::vector<char> cubin;
    for (const auto *aot : *kernel->cubins())
      if (aot->target()->str() == executor->arch_)
        cubin.assign(aot->data()->begin(), aot->data()->end());
    if (cubin.empty()) {
      auto compiled = compileCached(kernelName, kernel->source()->str(), headers, executor->arch_);
      if (!compiled)
        return compiled.status();
      cubin = std::move(*compiled);
    }
    CUmodule module;
    if (Status s = d.check(d.cuModuleLoadData(&module, cubin.data()), "cuModuleLoadData",
                           kernelName);
        !s)
      return s;
    CUfunction function;
    if (Status s = d.check(d.cuModuleGetFunction(&function, module, kernelName.c_str()),
                           "cuModuleGetFunction", kernelName);
        !s)
      return s;
    if (kernel->shared_bytes() > 48 * 1024)
      if (Status s = d.check(d.cuFuncSetAttribute(function,
                                                  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                  int(kernel->shared_bytes())),
                             "cuFuncSetAttribute", kernelName);
          !s)
        return s;
    executor->functions_.push_back(function);
  }

  // Weights (read or synthesised), arenas, input staging, the error flag.
  const auto &bindings = *artifact.root().weights();
  if (randomSeed) {
    for (uint32_t i = 0; i < bindings.size(); ++i) {
      const auto *binding = bindings.Get(i);
      int64_t count = 1;
      for (int64_t dim : *binding->shape())
        count *= dim;
      auto pointer = executor->allocate(size_t(count) * runtime::dtypeBytes(binding->dtype()),
                                        binding->name()->str());
      if (!pointer)
        return pointer.status();
      executor->weights_.push_back(*pointer);
      runtime::RandomFill fill = runtime::randomFillOf(*binding);
      if (Status s = executor->fill(*pointer, count, binding->dtype(), *randomSeed,
                                    runtime::randomStream(*binding), fill.scale, fill.offset,
                                    binding->name()->str());
          !s)
        return s;
    }
    if (Status s = d.check(d.cuStreamSynchronize(executor->stream_), "cuStreamSynchronize",
                           "synthesising weights");
        !s)
      return s;
  } else if (weights.size() != bindings.size()) {
    return Status::error("the CUDA backend got " + std::to_string(weights.size()) +
                         " weights for " + std::to_string(bindings.size()) + " bindings");
  }
  for (size_t i = 0; !randomSeed && i < weights.size(); ++i) {
    auto pointer = executor->allocate(weights[i].size(), bindings.Get(i)->name()->str());
    if (!pointer)
      return pointer.status();
    if (Status s = d.check(d.cuMemcpyHtoD(*pointer, weights[i].data(), weights[i].size()),
                           "cuMemcpyHtoD", bindings.Get(i)->name()->str());
        !s)
      return s;
    executor->weights_.push_back(*pointer);
  }
  // Calls run one at a time on one stream and nothing lives in an arena from one call to the
  // next: the functions share one arena, of the largest size (a tile sweep holds hundreds).
  int64_t arenaBytes = 0;
  for (const auto *function : *(*plan)->functions())
    arenaBytes = std::max<int64_t>(arenaBytes, function->arena_bytes());
  auto arena = executor->allocate(size_t(arenaBytes), "the arena");
  if (!arena)
    return arena.status();
  executor->arena_ = *arena;
  auto flag = executor->allocate(sizeof(int32_t), "error flag");
  if (!flag)
    return flag.status();
  executor->errorFlag_ = *flag;
  return executor;
}

StatusOr<CudaExecutor::DeviceState *> CudaExecutor::deviceState(runtime::Session &session,
                                                                bool keepsState) {
  if (Status s = checkOwner(session); !s)
    return s;
  const auto &slots = *artifact_.root().states();
  if (!session.backendState()) {
    // A session that ran nowhere but continues a sequence has no state to continue from.
    if (keepsState && session.length() > 0)
      return Status::error("this session (" + std::to_string(session.length()) +
                           " tokens) has no state on the device; reset it and prefill again");
    // A state that cannot be completed is freed by its destructor.
    auto owned = std::make_unique<DeviceState>(id(), driver_, context_);
    DeviceState &state = *owned;
    auto abandon = [&](const Status &failure) {
      return Status::error(failure.message() + " (device state of a new session; the other "
                                               "live sessions hold theirs: end some, or lower "
                                               "the capacity)");
    };
    state.k.assign(slots.size(), 0);
    state.v.assign(slots.size(), 0);
    state.conv.assign(slots.size(), 0);
    state.ssm.assign(slots.size(), 0);
    state.anchorOffsets.assign(slots.size(), 0);
    state.spanReach.assign(slots.size(), 0);
    auto allocateState = [&](size_t bytes, CUdeviceptr &target, const char *part) -> Status {
      if (bytes == 0)
        return Status::success();
      CUdeviceptr pointer = 0;
      if (Status s = driver_.check(driver_.cuMemAlloc(&pointer, bytes), "cuMemAlloc",
                                   std::string("session state ") + part + ", " +
                                       std::to_string(bytes) + " bytes");
          !s)
        return s;
      state.allocations.push_back(pointer);
      target = pointer;
      return Status::success();
    };
    int64_t maxTokens = 0;
    for (const auto *function : *plan().functions())
      maxTokens = std::max<int64_t>(maxTokens, function->max_tokens());
    for (size_t i = 0; i < slots.size(); ++i) {
      const runtime::StateBuffers &host = session.state(i);
      for (Status s : {allocateState(host.kBytes, state.k[i], "k"),
                       allocateState(host.kBytes, state.v[i], "v"),
                       allocateState(host.convBytes, state.conv[i], "conv"),
                       allocateState(host.ssmBytes, state.ssm[i], "ssm")})
        if (!s)
          return abandon(s);
      if (!host.anchorOffsets.empty()) {
        size_t bytes = host.anchorOffsets.size() * sizeof(int64_t);
        if (Status s = allocateState(bytes, state.anchorOffsets[i], "anchor offsets"); !s)
          return abandon(s);
        if (Status s = driver_.check(driver_.cuMemcpyHtoD(state.anchorOffsets[i],
                                                          host.anchorOffsets.data(), bytes),
                                     "cuMemcpyHtoD", "anchor offsets");
            !s)
          return abandon(s);
        if (Status s = allocateState(maxTokens * 2 * sizeof(int32_t), state.spanReach[i],
                                     "span reach");
            !s)
          return abandon(s);
      }
    }
    session.setBackendState(std::move(owned));
  }
  // checkOwner: this executor made it, so it is a DeviceState.
  DeviceState &state = static_cast<DeviceState &>(*session.backendState());
  if (session.length() == 0) {
    // A new or reset sequence starts from zero state (the Mamba states must be zero).
    for (size_t i = 0; i < slots.size(); ++i) {
      const runtime::StateBuffers &host = session.state(i);
      if (state.conv[i])
        driver_.cuMemsetD8(state.conv[i], 0, host.convBytes);
      if (state.ssm[i])
        driver_.cuMemsetD8(state.ssm[i], 0, host.ssmBytes);
    }
  }
  return &state;
}

Status CudaExecutor::stateToHost(runtime::Session &session, bool kv) {
  return copyState(session, kv, /*toHost=*/true);
}

Status CudaExecutor::stateToDevice(runtime::Session &session, bool kv) {
  return copyState(session, kv, /*toHost=*/false);
}

Status CudaExecutor::copyState(runtime::Session &session, bool kv, bool toHost) {
  const std::string what = toHost ? "session state to the host" : "session state to the device";
  if (!session.hasHostState())
    return Status::error("slrun (cuda): copying " + what + " needs a session with host buffers");
  if (Status s = driver_.check(driver_.cuCtxSetCurrent(context_), "cuCtxSetCurrent"); !s)
    return s;
  // The state to read must exist (an empty sequence's is all zeros); the state to write is
  // made if needed.
  if (Status s = checkOwner(session); !s)
    return s;
  if (toHost && session.length() == 0 && !session.backendState()) {
    for (size_t i = 0; i < session.slotCount(); ++i) {
      std::fill(session.state(i).conv.begin(), session.state(i).conv.end(), 0);
      std::fill(session.state(i).ssm.begin(), session.state(i).ssm.end(), 0);
    }
    return Status::success();
  }
  const int64_t length = session.length();
  auto stateOr = deviceState(session, /*keepsState=*/toHost);
  if (!stateOr)
    return stateOr.status();
  DeviceState &state = **stateOr;
  auto copy = [&](CUdeviceptr device, uint8_t *host, size_t bytes) {
    return toHost ? driver_.check(driver_.cuMemcpyDtoH(host, device, bytes), "cuMemcpyDtoH", what)
                  : driver_.check(driver_.cuMemcpyHtoD(device, host, bytes), "cuMemcpyHtoD", what);
  };
  const auto &slots = *artifact_.root().states();
  for (size_t i = 0; i < slots.size(); ++i) {
    runtime::StateBuffers &host = session.state(i);
    if (state.conv[i])
      if (Status s = copy(state.conv[i], host.conv.data(), host.convBytes); !s)
        return s;
    if (state.ssm[i])
      if (Status s = copy(state.ssm[i], host.ssm.data(), host.ssmBytes); !s)
        return s;
    if (!kv || !state.k[i] || length == 0)
      continue;
    // [kv_heads][capacity][head_dim]: the rows below the length of every head.
    const auto *slot = slots.Get(i);
    const size_t rowBytes = size_t(slot->head_dim()) * runtime::dtypeBytes(slot->dtype());
    const size_t headBytes = size_t(session.capacity()) * rowBytes;
    for (int32_t h = 0; h < slot->kv_heads(); ++h)
      for (auto [device, part] : {std::pair{state.k[i], &host.k}, std::pair{state.v[i], &host.v}})
        if (Status s = copy(device + h * headBytes, part->data() + h * headBytes,
                            size_t(length) * rowBytes);
            !s)
          return s;
  }
  return Status::success();
}

std::optional<std::pair<size_t, size_t>> CudaExecutor::deviceMemory() const {
  size_t free = 0, total = 0;
  driver_.cuCtxSetCurrent(context_);
  driver_.cuMemGetInfo(&free, &total);
  return std::make_pair(free, total);
}

bool CudaExecutor::graphsEnabled() {
  const char *value = std::getenv("SL_CUDA_GRAPHS");
  return !(value && std::string(value) == "0");
}

CUDA_KERNEL_NODE_PARAMS CudaExecutor::nodeParams(Launch &launch, std::vector<void *> &params) {
  const auto *kernel = artifact_.root().kernels()->Get(launch.kernel);
  params.clear();
  for (uint64_t &slot : launch.slots)
    params.push_back(&slot);
  CUDA_KERNEL_NODE_PARAMS node{};
  node.func = functions_.at(launch.kernel);
  node.gridDimX = launch.grid[0];
  node.gridDimY = launch.grid[1];
  node.gridDimZ = launch.grid[2];
  node.blockDimX = kernel->threads();
  node.blockDimY = node.blockDimZ = 1;
  node.sharedMemBytes = kernel->shared_bytes();
  node.kernelParams = params.data();
  return node;
}

Status CudaExecutor::launchOne(Launch &launch) {
  std::vector<void *> params;
  CUDA_KERNEL_NODE_PARAMS p = nodeParams(launch, params);
  return driver_.check(driver_.cuLaunchKernel(p.func, p.gridDimX, p.gridDimY, p.gridDimZ,
                                              p.blockDimX, 1, 1, p.sharedMemBytes, stream_,
                                              p.kernelParams, nullptr),
                       "cuLaunchKernel", kernelLabel(launch));
}

std::string CudaExecutor::kernelLabel(const Launch &launch) const {
  return artifact_.root().kernels()->Get(launch.kernel)->name()->str() + " at " +
         launch.source->location()->str();
}

Status CudaExecutor::launchDirect(std::vector<Launch> &launches) {
  for (Launch &launch : launches)
    if (Status s = launchOne(launch); !s)
      return s;
  return Status::success();
}

Status CudaExecutor::launchProfiled(std::vector<Launch> &launches) {
  const Driver &d = driver_;
  while (events_.size() < launches.size() + 1) {
    CUevent event;
    if (Status s = d.check(d.cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate"); !s)
      return s;
    events_.push_back(event);
  }
  for (size_t i = 0; i < launches.size(); ++i) {
    d.cuEventRecord(events_[i], stream_);
    if (Status s = launchOne(launches[i]); !s)
      return s;
  }
  d.cuEventRecord(events_[launches.size()], stream_);
  if (Status s = d.check(d.cuStreamSynchronize(stream_), "cuStreamSynchronize", "profile"); !s)
    return s;
  for (size_t i = 0; i < launches.size(); ++i) {
    float ms = 0;
    if (Status s = d.check(d.cuEventElapsedTime(&ms, events_[i], events_[i + 1]),
                           "cuEventElapsedTime", kernelLabel(launches[i]));
        !s)
      return s;
    KernelTime &entry =
        (*profile_)[artifact_.root().kernels()->Get(launches[i].kernel)->name()->str()];
    entry.ms += ms;
    entry.launches += 1;
  }
  return Status::success();
}

Status CudaExecutor::launchCapturing(const sl::schema::Function &function, CUdeviceptr arena,
                                     std::vector<Launch> &launches,
                                     const std::vector<runtime::Capture> &captures,
                                     runtime::CapturedCall &captured) {
  const Driver &d = driver_;
  captured.buffers.assign(captures.size(), {});
  for (Launch &launch : launches) {
    if (Status s = launchOne(launch); !s)
      return s;
    for (size_t c = 0; c < captures.size(); ++c) {
      if (captures[c].launch != launch.index)
        continue;
      auto offset = runtime::captureOffset(function, captures[c], launch.rows, launch.skippedRows);
      if (!offset)
        return offset.status();
      // A synchronous copy after the stream has drained: later launches may overwrite these
      // arena bytes. Only done while capturing (slrun logits --expert-choices).
      std::vector<uint8_t> &bytes = captured.buffers[c];
      bytes.resize(size_t(launch.rows * captures[c].rowBytes));
      if (Status s = d.check(d.cuStreamSynchronize(stream_), "cuStreamSynchronize",
                             kernelLabel(launch));
          !s)
        return s;
      if (Status s = bytes.empty() ? Status::success()
                                   : d.check(d.cuMemcpyDtoH(bytes.data(), arena + *offset,
                                                            bytes.size()),
                                             "cuMemcpyDtoH", "capture of " + kernelLabel(launch));
          !s)
        return s;
    }
  }
  return Status::success();
}

Status CudaExecutor::launchGraph(const std::string &function, int64_t tokens,
                                 std::vector<Launch> &launches) {
  const Driver &d = driver_;
  Graph &graph = graphs_[function];
  bool sameShape = graph.exec && graph.tokens == tokens && graph.launches.size() == launches.size();
  for (size_t i = 0; sameShape && i < launches.size(); ++i)
    sameShape = graph.launches[i].kernel == launches[i].kernel &&
                std::equal(launches[i].grid, launches[i].grid + 3, graph.launches[i].grid);
  std::vector<void *> params;
  if (!sameShape) {
    releaseGraph(graph);
    if (Status s = d.check(d.cuGraphCreate(&graph.graph, 0), "cuGraphCreate", function); !s)
      return s;
    for (Launch &launch : launches) {
      CUDA_KERNEL_NODE_PARAMS p = nodeParams(launch, params);
      CUgraphNode node;
      const CUgraphNode *previous = graph.nodes.empty() ? nullptr : &graph.nodes.back();
      if (Status s = d.check(
              d.cuGraphAddKernelNode(&node, graph.graph, previous, previous ? 1 : 0, &p),
              "cuGraphAddKernelNode", kernelLabel(launch));
          !s)
        return s;
      graph.nodes.push_back(node);
    }
    if (Status s = d.check(d.cuGraphInstantiate(&graph.exec, graph.graph, 0),
                           "cuGraphInstantiate", function);
        !s)
      return s;
    graph.tokens = tokens;
    graph.launches = launches;
  } else {
    // Only the arguments that changed since the last replay (positions, lengths, a new
    // session's state) are written into the executable graph.
    for (size_t i = 0; i < launches.size(); ++i) {
      if (launches[i].slots == graph.launches[i].slots)
        continue;
      CUDA_KERNEL_NODE_PARAMS p = nodeParams(launches[i], params);
      if (Status s = d.check(d.cuGraphExecKernelNodeSetParams(graph.exec, graph.nodes[i], &p),
                             "cuGraphExecKernelNodeSetParams", kernelLabel(launches[i]));
          !s)
        return s;
      graph.launches[i].slots = launches[i].slots;
    }
  }
  return d.check(d.cuGraphLaunch(graph.exec, stream_), "cuGraphLaunch", function);
}

void CudaExecutor::releaseGraph(Graph &graph) {
  if (graph.exec)
    driver_.cuGraphExecDestroy(graph.exec);
  if (graph.graph)
    driver_.cuGraphDestroy(graph.graph);
  graph = Graph();
}

StatusOr<std::vector<runtime::Tensor>>
CudaExecutor::call(const sl::schema::Function &requested, runtime::Session &session,
                   const std::vector<const void *> &inputs, int64_t tokens,
                   runtime::OutputRows rows) {
  const Driver &d = driver_;
  auto ownFunction = own(requested);
  if (!ownFunction)
    return ownFunction.status();
  const sl::schema::Function &function = **ownFunction;
  const std::string name = function.name()->str();
  auto fail = [&](const std::string &message) {
    return Status::error("slrun (cuda): " + name + ": " + message);
  };
  if (Status status = runtime::checkCall(function, session, inputs.size(), tokens); !status)
    return status;
  const int64_t start = session.length();
  const bool stateful = function.states()->size() > 0;
  if (Status s = d.check(d.cuCtxSetCurrent(context_), "cuCtxSetCurrent"); !s)
    return s;
  auto stateOr = deviceState(session, /*keepsState=*/true);
  if (!stateOr)
    return fail(stateOr.status().message());
  DeviceState &state = **stateOr;

  // Inputs to the device, per-call multi-step tables, a cleared error flag.
  std::vector<CUdeviceptr> inputPointers;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto *spec = function.inputs()->Get(i);
    size_t bytes = runtime::dtypeBytes(spec->dtype());
    for (int64_t dim : *spec->shape())
      bytes *= dim < 0 ? tokens : dim;
    std::string key = name + "#" + std::to_string(i);
    if (!inputs_.count(key)) {
      size_t maxBytes = runtime::dtypeBytes(spec->dtype());
      for (int64_t dim : *spec->shape())
        maxBytes *= dim < 0 ? function.max_tokens() : dim;
      auto pointer = allocate(maxBytes, "input of " + name);
      if (!pointer)
        return pointer.status();
      inputs_[key] = *pointer;
    }
    if (Status s = d.check(d.cuMemcpyHtoD(inputs_[key], inputs[i], bytes), "cuMemcpyHtoD"); !s)
      return s;
    inputPointers.push_back(inputs_[key]);
  }
  for (size_t slot = 0; slot < state.spanReach.size(); ++slot) {
    if (!state.spanReach[slot])
      continue;
    std::vector<int32_t> reach =
        runtime::spanReachTable(*artifact_.root().states()->Get(slot)->msa(), start, tokens);
    d.cuMemcpyHtoD(state.spanReach[slot], reach.data(), reach.size() * sizeof(int32_t));
  }
  d.cuMemsetD8(errorFlag_, 0, sizeof(int32_t));

  CUdeviceptr arena = arena_;
  // Every argument lives in an 8-byte slot; the driver reads as many bytes as the parameter has.
  // Device addresses of everything a launch argument can point to.
  struct DeviceMemory final : runtime::LaunchArgMemory {
    uint64_t arena() override { return arenaBase; }
    uint64_t weight(uint32_t binding) override { return weights->at(binding); }
    uint64_t input(uint32_t index) override { return inputs->at(index); }
    uint64_t statePart(uint32_t slot, sl::schema::StatePart part) override {
      switch (part) {
      case sl::schema::StatePart::k:
        return state->k.at(slot);
      case sl::schema::StatePart::v:
        return state->v.at(slot);
      case sl::schema::StatePart::conv:
        return state->conv.at(slot);
      case sl::schema::StatePart::ssm:
        return state->ssm.at(slot);
      }
      return 0;
    }
    uint64_t errorFlag() override { return errorFlagAddress; }
    uint64_t anchorOffsets(uint32_t slot) override { return state->anchorOffsets.at(slot); }
    uint64_t spanReach(uint32_t slot) override { return state->spanReach.at(slot); }

    CUdeviceptr arenaBase = 0, errorFlagAddress = 0;
    const std::vector<CUdeviceptr> *weights = nullptr, *inputs = nullptr;
    const DeviceState *state = nullptr;
  } memory;
  memory.arenaBase = arena;
  memory.errorFlagAddress = errorFlag_;
  memory.weights = &weights_;
  memory.inputs = &inputPointers;
  memory.state = &state;
  std::vector<Launch> launches;
  const int64_t keptRows = runtime::outputRowCount(rows, tokens);
  for (size_t index = 0; index < function.launches()->size(); ++index) {
    const auto *launch = function.launches()->Get(index);
    // An output-rows launch runs for the rows the caller reads back (none: skipped).
    const int64_t n = launch->output_rows() ? keptRows : tokens;
    const int64_t skippedRows = launch->output_rows() ? tokens - keptRows : 0;
    if (n == 0)
      continue;
    Launch resolved;
    resolved.kernel = launch->kernel();
    resolved.source = launch;
    resolved.index = index;
    resolved.rows = n;
    resolved.skippedRows = skippedRows;
    resolved.slots.assign(launch->args()->size(), 0);
    const runtime::LaunchCall call{function, session, start, tokens, n, skippedRows};
    for (size_t a = 0; a < launch->args()->size(); ++a) {
      auto value = runtime::resolveArg(*launch->args()->Get(a), call, memory);
      if (!value)
        return fail(artifact_.root().kernels()->Get(launch->kernel())->name()->str() + " (" +
                    launch->location()->str() + "): " + value.status().message());
      uint64_t &slot = resolved.slots[a];
      switch (value->type) {
      case runtime::ArgValue::Type::pointer:
        slot = value->address;
        break;
      case runtime::ArgValue::Type::i32: {
        int32_t x = int32_t(value->integer);
        std::memcpy(&slot, &x, 4);
        break;
      }
      case runtime::ArgValue::Type::i64:
        std::memcpy(&slot, &value->integer, 8);
        break;
      case runtime::ArgValue::Type::f32:
        std::memcpy(&slot, &value->real, 4);
        break;
      }
    }
    for (int g = 0; g < 3; ++g) {
      const auto *e = launch->grid()->Get(g);
      resolved.grid[g] = unsigned((e->mul() * n + e->add() + e->div() - 1) / e->div());
    }
    if (resolved.grid[0] && resolved.grid[1] && resolved.grid[2])
      launches.push_back(std::move(resolved));
  }
  if (!callEvents_[0])
    for (CUevent &event : callEvents_)
      if (Status s = d.check(d.cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate"); !s)
        return fail(s.message());
  d.cuEventRecord(callEvents_[0], stream_);
  // The decode step runs as a CUDA graph (built on the first step, replayed after with the
  // changed arguments patched in); prefill chunks, profiled and capturing calls launch kernel
  // by kernel.
  const std::vector<runtime::Capture> *captures = capturesOf(name);
  runtime::CapturedCall captured{name, tokens, {}};
  Status launched = captures ? launchCapturing(function, arena, launches, *captures, captured)
                    : profile_ ? launchProfiled(launches)
                    : name == "decode" && graphsEnabled() ? launchGraph(name, tokens, launches)
                                                          : launchDirect(launches);
  if (!launched)
    return fail(launched.message());
  d.cuEventRecord(callEvents_[1], stream_);
  if (Status s = d.check(d.cuStreamSynchronize(stream_), "cuStreamSynchronize", name); !s)
    return fail(s.message());
  float deviceMs = 0;
  d.cuEventElapsedTime(&deviceMs, callEvents_[0], callEvents_[1]);
  lastCallDeviceMs_ = deviceMs;
  int32_t errorFlag = 0;
  d.cuMemcpyDtoH(&errorFlag, errorFlag_, sizeof(errorFlag));
  if (errorFlag)
    return fail("token id at position " + std::to_string(start + errorFlag - 1) +
                " is outside the vocabulary");
  if (captures)
    logCaptured(std::move(captured));
  if (stateful)
    session.advance(tokens);

  std::vector<runtime::Tensor> outputs;
  for (size_t i = 0; i < function.outputs()->size(); ++i) {
    size_t offset = 0;
    runtime::Tensor tensor = runtime::outputTensor(function, i, tokens, rows, &offset);
    const auto *buffer = function.buffers()->Get(function.output_buffers()->Get(i));
    if (Status s = tensor.bytes.empty()
                       ? Status::success()
                       : d.check(d.cuMemcpyDtoH(tensor.bytes.data(),
                                                arena + buffer->offset() + offset,
                                                tensor.bytes.size()),
                                 "cuMemcpyDtoH");
        !s)
      return fail(s.message());
    outputs.push_back(std::move(tensor));
  }
  return outputs;
}

}  // namespace sl::cuda
