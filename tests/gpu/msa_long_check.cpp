// Multi-step attention at long context, CUDA backend against the CPU backend: the layer of
// tools/bench/msa-layer.mlir (32/2/128, k 3, W 2032, bf16), random q/k/v, prefilled on the GPU
// in chunks of the artifact's prefill size up to L tokens; at sampled query positions the CPU
// backend computes the same rows (its cache holds the same keys, one query per call) and the two
// outputs must agree within bf16 tolerance. (query, head) pairs whose routing is a near tie (the
// k-th and (k+1)-th anchor scores within 1e-3 relative, where fp32 summation order may pick a
// different span) are counted and skipped.
//
//   sl-msa-long-check --artifact msa-layer.slpkg [--lengths=65536,262144,1048576] [--samples=16]
//                     [--device=cuda|cpu]
#include "runtime/support/CommandLine.h"
#include "runtime/cpu/CpuExecutor.h"
#include "runtime/core/Model.h"
#include "runtime/cuda/CudaExecutor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>

using namespace sl;
using namespace sl::runtime;

namespace {

constexpr int kHeads = 32, kKvHeads = 2, kDim = 128, kSpans = 3;
constexpr int kQCols = kHeads * kDim, kKvCols = kKvHeads * kDim;

uint16_t toBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return uint16_t((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}
float fromBf16(uint16_t half) {
  uint32_t bits = uint32_t(half) << 16;
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

std::vector<uint16_t> randomBf16(size_t count, uint64_t seed, float scale) {
  std::vector<uint16_t> out(count);
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  for (uint16_t &x : out) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    x = toBf16(scale * (float(int64_t(state >> 40) - (1 << 23)) / float(1 << 23)));
  }
  return out;
}

int check(const std::string &artifactPath, const std::string &device,
          const std::vector<int64_t> &lengths, int samples) {
  auto model = Model::load(artifactPath, "");
  if (!model) {
    std::fprintf(stderr, "msa_long_check: %s\n", model.status().message().c_str());
    return 2;
  }
  const Artifact &artifact = (*model)->artifact();
  const auto *prefill = artifact.function("prefill");
  if (!prefill || prefill->inputs()->size() != 4 ||
      prefill->inputs()->Get(0)->shape()->Get(1) != kQCols) {
    std::fprintf(stderr, "msa_long_check: %s is not tools/bench/msa-layer.mlir compiled\n",
                 artifactPath.c_str());
    return 2;
  }
  CpuExecutor cpu(artifact, (*model)->weights());
  // The backend under test: CUDA, or (--device=cpu, to try the check without a GPU) the CPU
  // backend's chunked prefill against its own one-query calls.
  std::unique_ptr<Executor> tested;
  if (device == "cuda") {
    auto cuda = sl::cuda::CudaExecutor::create(artifact, (*model)->weights());
    if (!cuda) {
      std::fprintf(stderr, "msa_long_check: %s\n", cuda.status().message().c_str());
      return 2;
    }
    tested = std::move(*cuda);
  } else {
    tested = std::make_unique<CpuExecutor>(artifact, (*model)->weights());
  }
  const int64_t chunk = prefill->max_tokens();
  int failures = 0;
  for (int64_t length : lengths) {
    // q1 and q2 of one chunk, reused by every chunk (queries do not enter the cache); k and v
    // distinct at every position.
    const auto q1 = randomBf16(size_t(chunk) * kQCols, 11 + length, 1.0f);
    const auto q2 = randomBf16(size_t(chunk) * kQCols, 12 + length, 1.0f);
    const auto k = randomBf16(size_t(length) * kKvCols, 13 + length, 1.0f);
    const auto v = randomBf16(size_t(length) * kKvCols, 14 + length, 1.0f);
    // Sampled positions: the last, the first and last of some chunks, and random ones.
    std::mt19937_64 rng(length);
    std::vector<int64_t> positions = {length - 1, chunk, chunk - 1, length - chunk};
    while (int(positions.size()) < samples)
      positions.push_back(int64_t(rng() % uint64_t(length)));
    std::sort(positions.begin(), positions.end());
    positions.erase(std::unique(positions.begin(), positions.end()), positions.end());

    // GPU: chunked prefill of the whole sequence; keep the sampled rows.
    std::vector<std::vector<uint16_t>> gpuRows(positions.size());
    Session gpuSession(artifact, length, /*hostState=*/device == "cpu");
    for (int64_t first = 0; first < length; first += chunk) {
      const int64_t n = std::min(chunk, length - first);
      auto outputs = tested->call(*prefill, gpuSession,
                                   {q1.data(), q2.data(), k.data() + first * kKvCols,
                                    v.data() + first * kKvCols},
                                   n, OutputRows::all);
      if (!outputs) {
        std::fprintf(stderr, "msa_long_check: %s\n", outputs.status().message().c_str());
        return 2;
      }
      const auto *rows = reinterpret_cast<const uint16_t *>((*outputs)[0].bytes.data());
      for (size_t s = 0; s < positions.size(); ++s)
        if (positions[s] >= first && positions[s] < first + n)
          gpuRows[s].assign(rows + (positions[s] - first) * kQCols,
                            rows + (positions[s] - first + 1) * kQCols);
    }

    // CPU: the same cache, one query per call at each sampled position.
    Session cpuSession(artifact, length, /*hostState=*/true);
    StateBuffers &cache = cpuSession.state(0);
    auto *kc = reinterpret_cast<uint16_t *>(cache.k.data());
    auto *vc = reinterpret_cast<uint16_t *>(cache.v.data());
    for (int64_t pos = 0; pos < length; ++pos)
      for (int kvh = 0; kvh < kKvHeads; ++kvh)
        for (int d = 0; d < kDim; ++d) {
          kc[(size_t(kvh) * length + pos) * kDim + d] = k[size_t(pos) * kKvCols + kvh * kDim + d];
          vc[(size_t(kvh) * length + pos) * kDim + d] = v[size_t(pos) * kKvCols + kvh * kDim + d];
        }
    const std::vector<int64_t> &offsets = cache.anchorOffsets;
    double worst = 0;
    int checked = 0, ties = 0, bad = 0;
    for (size_t s = 0; s < positions.size(); ++s) {
      const int64_t pos = positions[s], row = pos % chunk;
      cpuSession.restoreLength(pos);
      auto outputs = cpu.call(*prefill, cpuSession,
                              {q1.data() + row * kQCols, q2.data() + row * kQCols,
                               k.data() + pos * kKvCols, v.data() + pos * kKvCols},
                              1, OutputRows::all);
      if (!outputs) {
        std::fprintf(stderr, "msa_long_check: cpu: %s\n", outputs.status().message().c_str());
        return 2;
      }
      const auto *cpuRow = reinterpret_cast<const uint16_t *>((*outputs)[0].bytes.data());
      for (int h = 0; h < kHeads; ++h) {
        // Routing scores of this (query, head) in double: a near tie at the k-th place is
        // skipped.
        std::vector<double> scores;
        for (int64_t offset : offsets) {
          if (pos - offset < 0)
            break;
          double dot = 0;
          for (int d = 0; d < kDim; ++d)
            dot += double(fromBf16(q1[row * kQCols + h * kDim + d])) *
                   fromBf16(k[size_t(pos - offset) * kKvCols + (h / (kHeads / kKvHeads)) * kDim + d]);
          scores.push_back(dot);
        }
        std::sort(scores.rbegin(), scores.rend());
        if (int(scores.size()) > kSpans &&
            scores[kSpans - 1] - scores[kSpans] < 1e-3 * std::max(1.0, std::fabs(scores[kSpans - 1]))) {
          ++ties;
          continue;
        }
        double diff = 0, norm = 0;
        for (int d = 0; d < kDim; ++d) {
          const double want = fromBf16(cpuRow[h * kDim + d]);
          const double got = fromBf16(gpuRows[s][h * kDim + d]);
          diff += (got - want) * (got - want);
          norm += want * want;
        }
        const double relative = std::sqrt(diff / std::max(norm, 1e-30));
        worst = std::max(worst, relative);
        ++checked;
        if (!(relative <= 2e-2))
          ++bad;
      }
    }
    const bool ok = bad == 0 && checked > 0;
    failures += ok ? 0 : 1;
    std::printf("%s multi-step attention L=%lld (%s prefill in chunks of %lld, %zu "
                "sampled positions): %d (query, head) rows checked, max relative L2 error %.3g "
                "(bound 2e-2), %d bad, %d near-tie rows skipped\n",
                ok ? "PASS" : "FAIL", (long long)length, device.c_str(), (long long)chunk,
                positions.size(),
                checked, worst, bad, ties);
  }
  std::printf("msa_long_check: %d failed\n", failures);
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv) {
  auto options = cli::CommandLine::parse(argc - 1, argv + 1, {}, {"artifact", "lengths", "samples", "device"});
  if (!options) {
    std::fprintf(stderr, "msa_long_check: %s\n", options.status().message().c_str());
    return 2;
  }
  auto artifact = options->required("artifact");
  auto samples = options->integer("samples", 16, 1);
  if (!artifact || !samples) {
    std::fprintf(stderr, "usage: sl-msa-long-check --artifact A [--lengths=L1,L2] [--samples=N]\n");
    return 2;
  }
  std::vector<int64_t> lengths;
  std::stringstream list(options->get("lengths", "65536,262144,1048576"));
  for (std::string item; std::getline(list, item, ',');)
    lengths.push_back(std::stoll(item));
  const std::string device = options->get("device", "cuda");
  if (device != "cuda" && device != "cpu") {
    std::fprintf(stderr, "msa_long_check: --device must be cuda or cpu\n");
    return 2;
  }
  return check(*artifact, device, lengths, int(*samples));
}
