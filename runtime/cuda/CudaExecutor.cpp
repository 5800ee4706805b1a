#include "runtime/cuda/CudaExecutor.h"

#include "runtime/core/LaunchArgs.h"
#include "runtime/core/RandomWeights.h"
#include "runtime/nvrtc/Nvrtc.h"
#include "runtime/schema/ArtifactVersion.h"
#include "runtime/support/Version.h"

#include <algorithm>
#include <atomic>
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
    // Unique per writer: the ranks of a group compile the same kernels at once, in one process.
    static std::atomic<uint64_t> writes{0};
    temp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(writes++);
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

Status CudaExecutor::fill(CUdeviceptr out, const runtime::RandomRun &run, sl::schema::DType dtype,
                          uint64_t seed, uint32_t stream, float scale, float offset,
                          const std::string &what) {
  if (!fills_.count(dtype)) {
    if (dtype != sl::schema::DType::bf16 && dtype != sl::schema::DType::f32)
      return Status::error("synthetic values of " + what + ": dtype is neither bf16 nor f32");
    std::string type = dtype == sl::schema::DType::bf16 ? "slk::bf16" : "float";
    std::string name = dtype == sl::schema::DType::bf16 ? "fill_random_bf16" : "fill_random_f32";
    std::string source = "#include \"sl_random.cuh\"\nextern \"C\" __global__ void "
                         "__launch_bounds__(256)\n" +
                         name + "(" + type +
                         " *out, slk::i64 rows, slk::i64 length, slk::i64 out_stride, slk::u64 "
                         "whole_base, slk::u64 whole_stride, slk::u64 seed, slk::u32 binding, "
                         "float scale, float offset) {\n  slk::fill_random<" +
                         type + ", 256>(out, rows, length, out_stride, whole_base, whole_stride, "
                                "seed, binding, scale, offset);\n}\n";
    auto cubin = compileCached(name, source, headers_, arch_);
    if (!cubin)
      return Status::error(cubin.status().message() +
                           " (the artifact's sl_random.cuh is an older slc's: recompile it)");
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
  CUdeviceptr first = out + run.sliceBase * runtime::dtypeBytes(dtype);
  int64_t rows = int64_t(run.rows), length = int64_t(run.length);
  int64_t outStride = int64_t(run.sliceStride);
  uint64_t wholeBase = run.wholeBase, wholeStride = run.wholeStride;
  uint64_t seedArg = seed;
  uint32_t streamArg = stream;
  void *params[] = {&first,   &rows,     &length,    &outStride, &wholeBase,
                    &wholeStride, &seedArg, &streamArg, &scale,     &offset};
  const uint64_t blocks = run.rows * ((run.length + 256 * 8 - 1) / (256 * 8));
  if (blocks == 0)
    return Status::success();
  if (blocks > 0x7FFFFFFFull)
    return Status::error("synthetic values of " + what + ": " + std::to_string(blocks) +
                         " blocks exceed one launch");
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
      const uint64_t count = part.bytes / runtime::dtypeBytes(part.dtype);
      if (Status s = fill(part.pointer, runtime::RandomRun{1, count, 0, count, 0, count},
                          part.dtype, seed, streamOfPart, part.scale, 0.0f, "session state");
          !s)
        return s;
    }
  }
  if (!grouped())  // the group sets it once, after every rank
    session.restoreLength(length);
  return driver_.check(driver_.cuStreamSynchronize(stream_), "cuStreamSynchronize",
                       "synthesising session state");
}

StatusOr<std::unique_ptr<CudaExecutor>>
CudaExecutor::create(const runtime::Artifact &artifact,
                     const std::vector<std::vector<uint8_t>> &weights,
                     std::optional<uint64_t> randomSeed, Placement placement) {
  auto driver = Driver::get();
  if (!driver)
    return driver.status();
  const Driver &d = **driver;
  int count = 0;
  d.cuDeviceGetCount(&count);
  if (placement.device < 0 || placement.device >= count)
    return Status::error("there is no GPU " + std::to_string(placement.device) +
                         ": the CUDA driver reports " + std::to_string(count));
  CUdevice device;
  if (Status s = d.check(d.cuDeviceGet(&device, placement.device), "cuDeviceGet"); !s)
    return s;
  char name[256] = {0};
  d.cuDeviceGetName(name, sizeof(name) - 1, device);
  int major = 0, minor = 0;
  d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  auto plan = artifact.planFor(major, minor);
  if (!plan)
    return Status::error(plan.status().message() + " (" + name + ", GPU " +
                         std::to_string(placement.device) + ")");
  // A rank runs its own plan, of the target this GPU gets.
  if (placement.plan && placement.plan->target()->str() != (*plan)->target()->str())
    return Status::error("GPU " + std::to_string(placement.device) + " (" + name + ") takes the " +
                         (*plan)->target()->str() + " plan, the group runs " +
                         placement.plan->target()->str() + ": the GPUs of --devices must be alike");
  const sl::schema::Plan &own = placement.plan ? *placement.plan : **plan;
  std::unique_ptr<CudaExecutor> executor(new CudaExecutor(d, artifact, own, placement));
  plan = &own;
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
  // Only the plan's kernels (another target's may not even build for this GPU), weights (another
  // rank's slices stay on its GPU) and state slots (its heads).
  std::vector<bool> used(artifact.root().kernels()->size(), false);
  std::vector<bool> usedWeights(artifact.root().weights()->size(), false);
  executor->usedSlots_.assign(artifact.root().states()->size(), false);
  for (const auto *function : *(*plan)->functions()) {
    for (uint32_t slot : *function->states())
      executor->usedSlots_[slot] = true;
    for (const auto *launch : *function->launches()) {
      if (launch->collective())
        continue;
      used[launch->kernel()] = true;
      for (const auto *arg : *launch->args())
        if (arg->kind() == sl::schema::ArgKind::weight)
          usedWeights[size_t(arg->index())] = true;
    }
  }
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
  executor->weights_.assign(bindings.size(), 0);
  if (randomSeed) {
    for (uint32_t i = 0; i < bindings.size(); ++i) {
      if (!usedWeights[i])
        continue;
      const auto *binding = bindings.Get(i);
      int64_t count = 1;
      for (int64_t dim : *binding->shape())
        count *= dim;
      auto pointer = executor->allocate(size_t(count) * runtime::dtypeBytes(binding->dtype()),
                                        binding->name()->str());
      if (!pointer)
        return pointer.status();
      executor->weights_[i] = *pointer;
      // A rank's slice: the whole tensor's values at its elements, run by run.
      runtime::RandomFill fill = runtime::randomFillOf(*binding);
      for (const runtime::RandomRun &run : runtime::randomRuns(*binding))
        if (Status s = executor->fill(*pointer, run, binding->dtype(), *randomSeed,
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
    if (!usedWeights[i])
      continue;
    auto pointer = executor->allocate(weights[i].size(), bindings.Get(i)->name()->str());
    if (!pointer)
      return pointer.status();
    if (Status s = d.check(d.cuMemcpyHtoD(*pointer, weights[i].data(), weights[i].size()),
                           "cuMemcpyHtoD", bindings.Get(i)->name()->str());
        !s)
      return s;
    executor->weights_[i] = *pointer;
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

runtime::BackendState *CudaExecutor::ownState(runtime::Session &session) const {
  if (!grouped())
    return session.backendState();
  auto *group = static_cast<RankStates *>(session.backendState());
  return group ? group->ranks.at(size_t(placement_.rank)).get() : nullptr;
}

void CudaExecutor::setOwnState(runtime::Session &session,
                               std::unique_ptr<runtime::BackendState> state) {
  if (!grouped())
    session.setBackendState(std::move(state));
  else
    static_cast<RankStates *>(session.backendState())->ranks.at(size_t(placement_.rank)) =
        std::move(state);
}

Status CudaExecutor::checkOwns(const runtime::Session &session) const {
  return grouped() ? Status::success() : checkOwner(session);
}

Status CudaExecutor::checkAllReduce() {
  const Driver &d = driver_;
  if (!grouped())
    return Status::error("an all-reduce needs the GPUs of a group");
  if (Status s = d.check(d.cuCtxSetCurrent(context_), "cuCtxSetCurrent"); !s)
    return s;
  auto buffer = allocate(sizeof(float), "the all-reduce check");
  if (!buffer)
    return buffer.status();
  const float mine = float(placement_.rank + 1);
  float sum = 0.0f;
  const Nccl &nccl = *placement_.nccl;
  for (Status s : {d.check(d.cuMemcpyHtoD(*buffer, &mine, sizeof(float)), "cuMemcpyHtoD"),
                   nccl.check(nccl.ncclAllReduce(reinterpret_cast<const void *>(*buffer),
                                                 reinterpret_cast<void *>(*buffer), 1,
                                                 Nccl::kFloat32, Nccl::kSum, placement_.comm,
                                                 stream_),
                              "ncclAllReduce", "the all-reduce check"),
                   d.check(d.cuStreamSynchronize(stream_), "cuStreamSynchronize"),
                   d.check(d.cuMemcpyDtoH(&sum, *buffer, sizeof(float)), "cuMemcpyDtoH")})
    if (!s)
      return s;
  const int ranks = plan().world_size();
  const float expected = float(ranks * (ranks + 1) / 2);
  if (sum != expected)
    return Status::error("the all-reduce check of rank " + std::to_string(placement_.rank) +
                         " gave " + std::to_string(sum) + ", not " + std::to_string(expected));
  return Status::success();
}

StatusOr<CudaExecutor::DeviceState *> CudaExecutor::deviceState(runtime::Session &session,
                                                                bool keepsState) {
  if (Status s = checkOwns(session); !s)
    return s;
  if (grouped() && !session.backendState())
    return Status::error("a rank's session state without its group's (CudaRankGroup::claim)");
  const auto &slots = *artifact_.root().states();
  if (!ownState(session)) {
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
      if (!usedSlots_[i])
        continue;
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
    setOwnState(session, std::move(owned));
  }
  // checkOwns: this executor made it, so it is a DeviceState.
  DeviceState &state = static_cast<DeviceState &>(*ownState(session));
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
  if (Status s = checkOwns(session); !s)
    return s;
  if (toHost && session.length() == 0 && !ownState(session)) {
    for (size_t i = 0; i < session.slotCount(); ++i) {
      if (!usedSlots_[i])
        continue;
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
  if (launch.collective) {
    const int dtype = launch.collective->dtype() == sl::schema::DType::bf16   ? Nccl::kBfloat16
                      : launch.collective->dtype() == sl::schema::DType::f16 ? Nccl::kFloat16
                                                                             : Nccl::kFloat32;
    const Nccl &nccl = *placement_.nccl;
    return nccl.check(nccl.ncclAllReduce(reinterpret_cast<const void *>(launch.address),
                                         reinterpret_cast<void *>(launch.address), launch.count,
                                         dtype, Nccl::kSum, placement_.comm, stream_),
                      "ncclAllReduce", kernelLabel(launch));
  }
  std::vector<void *> params;
  CUDA_KERNEL_NODE_PARAMS p = nodeParams(launch, params);
  return driver_.check(driver_.cuLaunchKernel(p.func, p.gridDimX, p.gridDimY, p.gridDimZ,
                                              p.blockDimX, 1, 1, p.sharedMemBytes, stream_,
                                              p.kernelParams, nullptr),
                       "cuLaunchKernel", kernelLabel(launch));
}

std::string CudaExecutor::kernelLabel(const Launch &launch) const {
  return (launch.collective ? std::string("all_reduce")
                            : artifact_.root().kernels()->Get(launch.kernel)->name()->str()) +
         " at " + launch.source->location()->str();
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
        (*profile_)[launches[i].collective
                        ? std::string("all_reduce (NCCL)")
                        : artifact_.root().kernels()->Get(launches[i].kernel)->name()->str()];
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
                graph.launches[i].collective == launches[i].collective &&
                graph.launches[i].address == launches[i].address &&
                graph.launches[i].count == launches[i].count &&
                std::equal(launches[i].grid, launches[i].grid + 3, graph.launches[i].grid);
  std::vector<void *> params;
  const bool collectives = std::any_of(launches.begin(), launches.end(),
                                       [](const Launch &launch) { return launch.collective; });
  if (!sameShape && collectives) {
    releaseGraph(graph);
    if (Status s = captureGraph(function, graph, launches); !s) {
      releaseGraph(graph);
      return s;
    }
    graph.tokens = tokens;
    graph.launches = launches;
  } else if (!sameShape) {
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
      if (launches[i].collective || launches[i].slots == graph.launches[i].slots)
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

Status CudaExecutor::captureGraph(const std::string &function, Graph &graph,
                                  std::vector<Launch> &launches) {
  const Driver &d = driver_;
  // Thread-local: the other ranks' threads keep launching on their own streams meanwhile.
  if (Status s = d.check(d.cuStreamBeginCapture(stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                         "cuStreamBeginCapture", function);
      !s)
    return s;
  Status captured = Status::success();
  for (Launch &launch : launches) {
    if (!(captured = launchOne(launch)))
      break;
    CUgraphNode node = nullptr;
    if (!launch.collective) {
      // The node this launch added: the capture's one dependency now.
      CUstreamCaptureStatus status;
      const CUgraphNode *dependencies = nullptr;
      const CUgraphEdgeData *edges = nullptr;  // asked for: a query without them may be lossy
      size_t count = 0;
      if (!(captured = d.check(d.cuStreamGetCaptureInfo(stream_, &status, nullptr, nullptr,
                                                        &dependencies, &edges, &count),
                               "cuStreamGetCaptureInfo", kernelLabel(launch))))
        break;
      if (count != 1) {
        captured = Status::error("capturing " + kernelLabel(launch) + ": " +
                                 std::to_string(count) + " nodes end the capture, not one");
        break;
      }
      node = dependencies[0];
    }
    graph.nodes.push_back(node);
  }
  // The capture ends whatever happened, so that the stream is usable again.
  CUgraph made = nullptr;
  Status ended = d.check(d.cuStreamEndCapture(stream_, &made), "cuStreamEndCapture", function);
  graph.graph = made;
  if (!captured)
    return captured;
  if (!ended)
    return ended;
  return d.check(d.cuGraphInstantiate(&graph.exec, graph.graph, 0), "cuGraphInstantiate",
                 function);
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
    if (const auto *collective = launch->collective()) {
      if (!grouped())
        return fail("the collective at " + launch->location()->str() +
                    " needs the GPUs of a tensor-parallel group (slrun --devices)");
      resolved.collective = collective;
      resolved.address = arena + function.buffers()->Get(collective->buffer())->offset() +
                         collective->byte_offset();
      resolved.count = size_t(tokens * collective->bytes_per_token()) /
                       runtime::dtypeBytes(collective->dtype());
      launches.push_back(std::move(resolved));
      continue;
    }
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
  // A rank's group advances the session once, after every rank's call.
  if (stateful && !grouped())
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
