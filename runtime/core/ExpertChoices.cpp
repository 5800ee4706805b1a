#include "runtime/core/ExpertChoices.h"

#include "runtime/kernels/KernelTable.h"

#include <algorithm>
#include <cstring>

namespace sl::runtime {

namespace {

// Template argument `i` of `kernel` as a positive integer, or -1.
int64_t templateInteger(const sl::schema::Kernel &kernel, size_t i) {
  if (!kernel.template_args() || i >= kernel.template_args()->size())
    return -1;
  std::optional<int64_t> value = kernels::parseInteger(kernel.template_args()->Get(i)->str());
  return value && *value > 0 ? *value : -1;
}

}  // namespace

StatusOr<std::vector<RouterLaunch>> routerLaunches(const Artifact &artifact,
                                                   const sl::schema::Function &function) {
  const auto &kernels = *artifact.root().kernels();
  std::vector<RouterLaunch> routers;
  for (size_t i = 0; i < function.launches()->size(); ++i) {
    const auto *launch = function.launches()->Get(i);
    if (launch->kernel() >= kernels.size())
      return Status::error("artifact " + artifact.path() + ": launch " + std::to_string(i) +
                           " of " + function.name()->str() + " names no kernel");
    const auto &kernel = *kernels.Get(launch->kernel());
    const std::string name = kernel.template_name() ? kernel.template_name()->str() : "";
    // The routers' signatures come from the kernel table (runtime/kernels/KernelTable.cpp).
    if (name != "moe_router" && name != "moe_topk")
      continue;
    const kernels::KernelSignature &signature = *kernels::findKernel(name);
    const size_t templateArgs = signature.templateParams.size(), args = signature.params.size();
    RouterLaunch router;
    router.indicesArg = size_t(signature.paramIndex("indices"));
    router.experts = templateInteger(kernel, size_t(signature.templateIndex("EXPERTS")));
    router.topK = templateInteger(kernel, size_t(signature.templateIndex("TOPK")));
    router.launch = i;
    router.location = launch->location() ? launch->location()->str() : "?";
    const std::string where = "artifact " + artifact.path() + ": " + function.name()->str() +
                              ": the " + name + " launch at " + router.location;
    if (kernel.template_args()->size() != templateArgs || launch->args()->size() != args ||
        launch->args()->Get(router.indicesArg)->kind() != sl::schema::ArgKind::buffer)
      return Status::error(where + " does not have the kernel table's signature (" +
                           std::to_string(templateArgs) + " template arguments, " +
                           std::to_string(args) + " arguments, `indices` an arena buffer)");
    if (router.experts < 1 || router.topK < 1 || router.topK > router.experts)
      return Status::error(where + " has no valid EXPERTS and TOPK (1 <= TOPK <= EXPERTS)");
    routers.push_back(router);
  }
  return routers;
}

StatusOr<ExpertChoices> ExpertChoices::attach(const Artifact &artifact, Executor &executor,
                                              const std::vector<std::string> &functions) {
  std::vector<RouterLaunch> first;
  for (size_t f = 0; f < functions.size(); ++f) {
    // The launch indices are those of the plan the executor runs.
    const auto *function = findFunction(executor.plan(), functions[f]);
    if (!function)
      return Status::error("artifact " + artifact.path() + " has no '" + functions[f] +
                           "' function");
    auto routers = routerLaunches(artifact, *function);
    if (!routers)
      return routers.status();
    if (routers->empty())
      return Status::error("artifact " + artifact.path() + " has no MoE layers (its " +
                           functions[f] + " function has no moe_router or moe_topk launch)");
    if (f == 0)
      first = *routers;
    // Each function's i-th router is layer i: they must describe the same layers.
    bool same = routers->size() == first.size();
    for (size_t i = 0; same && i < first.size(); ++i)
      same = (*routers)[i].topK == first[i].topK && (*routers)[i].experts == first[i].experts;
    if (!same)
      return Status::error("artifact " + artifact.path() + ": the MoE routers of " +
                           functions[0] + " and " + functions[f] +
                           " differ in number, TOPK or experts");
    for (const RouterLaunch &router : *routers)
      if (router.topK != first[0].topK)
        return Status::error("artifact " + artifact.path() + ": MoE layers choose " +
                             std::to_string(first[0].topK) + " and " +
                             std::to_string(router.topK) + " experts (TOPK differs at " +
                             router.location + ")");
    std::vector<Capture> captures;
    for (const RouterLaunch &router : *routers)
      captures.push_back({router.launch, router.indicesArg, router.topK * int64_t(sizeof(int32_t))});
    executor.setCaptures(functions[f], std::move(captures));
  }
  return ExpertChoices(std::move(first));
}

Status ExpertChoices::append(const CapturedCall &call) {
  if (call.buffers.size() != routers_.size())
    return Status::error(call.function + ": captured " + std::to_string(call.buffers.size()) +
                         " router outputs for " + std::to_string(routers_.size()) +
                         " MoE layers");
  std::vector<std::vector<int32_t>> sorted(routers_.size());  // kept only if every layer checks
  for (size_t layer = 0; layer < routers_.size(); ++layer) {
    const RouterLaunch &router = routers_[layer];
    const std::vector<uint8_t> &bytes = call.buffers[layer];
    const std::string where = call.function + ": MoE layer " + std::to_string(layer) + " (" +
                              router.location + ")";
    if (bytes.size() != size_t(call.tokens * router.topK) * sizeof(int32_t))
      return Status::error(where + ": the router wrote " + std::to_string(bytes.size()) +
                           " bytes of choices in a " + std::to_string(call.tokens) +
                           "-token call, not " + std::to_string(router.topK) + " int32 a token");
    std::vector<int32_t> values(bytes.size() / sizeof(int32_t));
    if (!values.empty())
      std::memcpy(values.data(), bytes.data(), bytes.size());
    for (int64_t t = 0; t < call.tokens; ++t) {
      auto row = values.begin() + t * router.topK;
      std::sort(row, row + router.topK);
      const int64_t position = positions_ + t;
      // A read of the wrong bytes shows as ids out of range or repeated within a token.
      if (row[0] < 0 || row[router.topK - 1] >= router.experts)
        return Status::error(where + ": an expert id outside [0, " +
                             std::to_string(router.experts) + ") at position " +
                             std::to_string(position));
      if (std::adjacent_find(row, row + router.topK) != row + router.topK)
        return Status::error(where + ": an expert chosen twice at position " +
                             std::to_string(position));
    }
    sorted[layer] = std::move(values);
  }
  rows_.resize(routers_.size());
  for (size_t layer = 0; layer < routers_.size(); ++layer)
    rows_[layer].insert(rows_[layer].end(), sorted[layer].begin(), sorted[layer].end());
  positions_ += call.tokens;
  return Status::success();
}

std::vector<int32_t> ExpertChoices::values() const {
  std::vector<int32_t> all;
  for (const std::vector<int32_t> &layer : rows_)
    all.insert(all.end(), layer.begin(), layer.end());
  return all;
}

}  // namespace sl::runtime
