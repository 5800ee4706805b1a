#include "runtime/core/Artifact.h"

#include "runtime/schema/ArgNames.h"
#include "runtime/schema/ArtifactVersion.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <set>

namespace sl::runtime {

namespace {

using sl::schema::ArgKind;

// The flatbuffer verifier checks that every offset stays in the buffer, but the schema makes
// every field optional and says nothing of indices. The runtime dereferences fields and indexes
// tables without further checks (executors, sessions, weights), so every such field must be
// present and every index in range: checked once here. Returns the first problem, or "".
// The verifier checks the alignment of scalar fields but, for vectors, only that of the length:
// the elements of [int64] and of structs holding int64 (Extent, Buffer) must be 8-byte aligned
// too, or reading them is undefined behaviour. (The artifact's bytes start 16-byte aligned.)
template <typename V>
bool elementsAligned(const V *vector) {
  return !vector || reinterpret_cast<uintptr_t>(vector->Data()) % 8 == 0;
}

std::string checkPlan(const sl::schema::Artifact &root, const sl::schema::Plan &plan);

int64_t dtypeBytesOf(sl::schema::DType dtype) {
  return dtype == sl::schema::DType::f32 || dtype == sl::schema::DType::i32 ? 4
         : dtype == sl::schema::DType::i64                                  ? 8
                                                                            : 2;
}

bool sameShapes(const flatbuffers::Vector<flatbuffers::Offset<sl::schema::Tensor>> &a,
                const flatbuffers::Vector<flatbuffers::Offset<sl::schema::Tensor>> &b) {
  if (a.size() != b.size())
    return false;
  for (uint32_t i = 0; i < a.size(); ++i)
    if (a.Get(i)->dtype() != b.Get(i)->dtype() ||
        !std::equal(a.Get(i)->shape()->begin(), a.Get(i)->shape()->end(),
                    b.Get(i)->shape()->begin(), b.Get(i)->shape()->end()))
      return false;
  return true;
}

// The ranks of a tensor-parallel artifact hold state slots of their own (their heads): only
// plans of the same rank must pass the same slots.
bool sameInterface(const sl::schema::Function &a, const sl::schema::Function &b, bool sameRank) {
  auto text = [](const flatbuffers::String *s) { return s ? s->str() : std::string(); };
  return text(a.phase()) == text(b.phase()) && a.max_tokens() == b.max_tokens() &&
         (!sameRank || std::equal(a.states()->begin(), a.states()->end(), b.states()->begin(),
                                  b.states()->end())) &&
         a.states()->size() == b.states()->size() && sameShapes(*a.inputs(), *b.inputs()) &&
         sameShapes(*a.outputs(), *b.outputs());
}

// A binding's ranges: grouped by dimension of `checkpoint_shape` in ascending order, inside it;
// along each sliced dimension they sum to `shape` (the other dimensions are whole).
std::string checkRanges(const sl::schema::WeightBinding &binding) {
  const std::string where = "weight " + binding.name()->str() + ": ";
  if (!binding.ranges() || binding.ranges()->size() == 0)
    return "";
  const auto *whole = binding.checkpoint_shape();
  if (!whole || !elementsAligned(whole) || !elementsAligned(binding.ranges()) ||
      whole->size() != binding.shape()->size())
    return where + "ranges without a checkpoint shape of its rank (or misaligned)";
  std::vector<int64_t> expected(whole->begin(), whole->end());
  int64_t previous = -1;
  for (const auto *range : *binding.ranges()) {
    const int64_t dim = range->dim();
    if (dim < 0 || size_t(dim) >= whole->size())
      return where + "a range along dimension " + std::to_string(dim) + ", outside its rank";
    if (dim < previous)
      return where + "ranges not grouped by dimension in ascending order";
    if (dim != previous)
      expected[size_t(dim)] = 0;
    previous = dim;
    if (range->offset() < 0 || range->size() <= 0 ||
        range->offset() > whole->Get(dim) - range->size())
      return where + "a range outside dimension " + std::to_string(dim) +
             " of its checkpoint shape";
    expected[size_t(dim)] += range->size();
  }
  for (size_t d = 0; d < whole->size(); ++d)
    if (binding.shape()->Get(d) != expected[d] || whole->Get(d) < 0)
      return where + "a shape that is not the sum of its ranges of the checkpoint shape";
  return "";
}

std::string checkStructure(const sl::schema::Artifact &root) {
  if (!root.model() || !root.headers() || !root.kernels() || !root.weights() || !root.states() ||
      !root.plans())
    return "missing model attributes, headers, kernels, weights, states or plans";
  for (const auto *header : *root.headers())
    if (!header->name() || !header->text())
      return "a library header without name or text";
  for (const auto *kernel : *root.kernels()) {
    if (!kernel->name() || !kernel->template_name() || !kernel->template_args() ||
        !kernel->source() || !kernel->cubins())
      return "a kernel without name, template, template arguments, source or cubins";
    for (const auto *cubin : *kernel->cubins())
      if (!cubin->target() || !cubin->data())
        return "kernel " + kernel->name()->str() + ": a cubin without target or data";
  }
  for (const auto *binding : *root.weights()) {
    if (!binding->name() || !binding->shape())
      return "a weight binding without name or shape";
    if (!elementsAligned(binding->shape()))
      return "weight " + binding->name()->str() + ": a misaligned shape";
    for (int64_t dim : *binding->shape())
      if (dim < 0)
        return "weight " + binding->name()->str() + ": a negative dimension";
    if (std::string problem = checkRanges(*binding); !problem.empty())
      return problem;
  }
  for (const auto *slot : *root.states()) {
    if (!slot->location())
      return "a state slot without location";
    if (slot->kind() > sl::schema::StateKind::MAX)
      return "state slot " + slot->location()->str() + ": kind " +
             std::to_string(int(slot->kind())) + ", outside the schema's StateKind";
  }
  if (!root.plans() || root.plans()->size() == 0)
    return "no plans";
  // Ranks 0 .. world_size - 1 of each target, consecutive; one world size for the artifact.
  std::set<std::string> targets;
  const int32_t worldSize = root.plans()->Get(0)->world_size();
  if (worldSize < 1 || root.plans()->size() % uint32_t(worldSize) != 0)
    return "world size " + std::to_string(worldSize) + " does not divide the " +
           std::to_string(root.plans()->size()) + " plans";
  for (uint32_t p = 0; p < root.plans()->size(); ++p) {
    const auto *plan = root.plans()->Get(p);
    if (!plan->target() || !plan->functions())
      return "a plan without target or functions";
    if (plan->world_size() != worldSize || plan->rank() != int32_t(p % uint32_t(worldSize)))
      return "plan " + std::to_string(p) + " (" + plan->target()->str() + ") is rank " +
             std::to_string(plan->rank()) + " of " + std::to_string(plan->world_size()) +
             ", expected rank " + std::to_string(p % uint32_t(worldSize)) + " of " +
             std::to_string(worldSize);
    if (plan->rank() == 0 && !targets.insert(plan->target()->str()).second)
      return "two plans for " + plan->target()->str();
    if (plan->rank() > 0 && plan->target()->str() != root.plans()->Get(p - 1)->target()->str())
      return "rank " + std::to_string(plan->rank()) + " of another target than rank 0";
    if (std::string problem = checkPlan(root, *plan); !problem.empty())
      return "plan " + plan->target()->str() + ": " + problem;
  }
  // Callers take a function's interface from the first plan and any executor runs its own plan's
  // function of that name: the interfaces must agree.
  const auto &first = *root.plans()->Get(0);
  for (uint32_t p = 0; p < root.plans()->size(); ++p) {
    const auto *plan = root.plans()->Get(p);
    // Plans of one rank must pass the same state slots: those of rank 0 compare with plan 0,
    // the others with the same rank of the first target.
    const auto &reference = *root.plans()->Get(p % uint32_t(worldSize));
    const std::string where = "plan " + plan->target()->str() + ": ";
    if (plan->functions()->size() != first.functions()->size())
      return where + "other functions than plan " + first.target()->str();
    for (const auto *function : *first.functions()) {
      const auto *own = findFunction(*plan, function->name()->str());
      const auto *sameRank = findFunction(reference, function->name()->str());
      if (!own || !sameRank)
        return where + "no function " + function->name()->str();
      if (!sameInterface(*function, *own, false) || !sameInterface(*sameRank, *own, true))
        return where + "function " + function->name()->str() +
               " has another interface (phase, max_tokens, inputs, states or outputs) than in "
               "plan " + first.target()->str();
    }
  }
  return "";
}

std::string checkPlan(const sl::schema::Artifact &root, const sl::schema::Plan &plan) {
  const size_t states = root.states()->size();
  for (const auto *function : *plan.functions()) {
    if (!function->name())
      return "a function without name";
    const std::string where = "function " + function->name()->str() + ": ";
    if (!function->buffers() || !function->inputs() || !function->states() ||
        !function->outputs() || !function->output_buffers() || !function->launches())
      return where + "missing buffers, inputs, states, outputs, output buffers or launches";
    if (!elementsAligned(function->buffers()))
      return where + "misaligned buffers";
    if (function->max_tokens() < 1 || function->arena_bytes() < 0)
      return where + "max_tokens below 1 or a negative arena size";
    const auto &buffers = *function->buffers();
    for (const auto *buffer : buffers)
      if (buffer->offset() < 0 || buffer->bytes() < 0 ||
          buffer->offset() > function->arena_bytes() - buffer->bytes())
        return where + "a buffer outside the arena";
    for (const auto *tensor : *function->inputs())
      if (!tensor->shape() || !elementsAligned(tensor->shape()))
        return where + "an input without shape or with a misaligned one";
    for (const auto *tensor : *function->outputs())
      if (!tensor->shape() || !elementsAligned(tensor->shape()))
        return where + "an output without shape or with a misaligned one";
    for (uint32_t slot : *function->states())
      if (slot >= states)
        return where + "state slot " + std::to_string(slot) + " out of range";
    if (function->output_buffers()->size() != function->outputs()->size())
      return where + "outputs and output buffers differ in number";
    for (uint32_t buffer : *function->output_buffers())
      if (buffer >= buffers.size())
        return where + "output buffer " + std::to_string(buffer) + " out of range";
    for (const auto *launch : *function->launches()) {
      if (!launch->grid() || !launch->args() || !launch->location())
        return where + "a launch without grid, arguments or location";
      if (const auto *collective = launch->collective()) {
        const std::string what = where + "the collective at " + launch->location()->str();
        if (plan.world_size() < 2)
          return what + " is in a plan of one rank";
        if (!sl::schema::isValid(collective->op()) || collective->buffer() >= buffers.size() ||
            (collective->dtype() != sl::schema::DType::f32 &&
             collective->dtype() != sl::schema::DType::f16 &&
             collective->dtype() != sl::schema::DType::bf16))
          return what + " has an unknown op, buffer or dtype";
        const auto *buffer = buffers.Get(collective->buffer());
        const int64_t rowBytes = collective->bytes_per_token();
        if (rowBytes <= 0 || rowBytes % dtypeBytesOf(collective->dtype()) != 0 ||
            collective->byte_offset() < 0 || collective->byte_offset() > buffer->bytes() ||
            rowBytes > (buffer->bytes() - collective->byte_offset()) / function->max_tokens())
          return what + " covers bytes outside its buffer";
        continue;
      }
      if (launch->kernel() >= root.kernels()->size())
        return where + "kernel " + std::to_string(launch->kernel()) + " out of range";
      if (launch->grid()->size() != 3 || !elementsAligned(launch->grid()))
        return where + "a grid that is not x, y, z (or misaligned)";
      for (const auto *extent : *launch->grid())
        if (extent->div() <= 0)
          return where + "a grid extent with a divisor below 1";
      for (const auto *arg : *launch->args()) {
        auto inRange = [&](size_t size) { return arg->index() >= 0 && size_t(arg->index()) < size; };
        const std::string argument = where + "an argument of " + launch->location()->str();
        // The verifier leaves enum values unchecked: a value past the schema's is refused here,
        // so that no backend meets one.
        if (!sl::schema::isValid(arg->kind()))
          return argument + " has kind " + std::to_string(int(arg->kind())) +
                 ", outside the schema's ArgKind (0.." +
                 std::to_string(int(sl::schema::ArgKind::MAX)) + ")";
        bool ok = true;
        switch (arg->kind()) {
        case ArgKind::buffer:
          ok = inRange(buffers.size());
          break;
        case ArgKind::weight:
          ok = inRange(root.weights()->size());
          break;
        case ArgKind::input:
          ok = inRange(function->inputs()->size());
          break;
        case ArgKind::state_part:
          if (!sl::schema::isValid(arg->part()))
            return argument + " has state part " + std::to_string(int(arg->part())) +
                   ", outside the schema's StatePart (0.." +
                   std::to_string(int(sl::schema::StatePart::MAX)) + ")";
          ok = inRange(states);
          if (ok && root.states()->Get(uint32_t(arg->index()))->kind() !=
                        sl::schema::stateKindOf(arg->part()))
            return argument + " points to part " +
                   sl::schema::EnumNameStatePart(arg->part()) + " of state slot " +
                   std::to_string(arg->index()) + ", which is a " +
                   sl::schema::EnumNameStateKind(
                       root.states()->Get(uint32_t(arg->index()))->kind());
          break;
        case ArgKind::runtime:
          if (!sl::schema::isValid(arg->value()))
            return argument + " has run-time value " + std::to_string(int(arg->value())) +
                   ", outside the schema's RuntimeValue (0.." +
                   std::to_string(int(sl::schema::RuntimeValue::MAX)) + ")";
          if (sl::schema::isStateTable(arg->value()))
            ok = inRange(states) && root.states()->Get(uint32_t(arg->index()))->msa();
          break;
        default:
          break;
        }
        if (!ok)
          return argument + " refers to nothing (index " + std::to_string(arg->index()) + ")";
      }
    }
  }
  return "";
}

}  // namespace

StatusOr<Artifact> Artifact::load(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error("artifact " + path + ": cannot be read");
  std::vector<uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
  if (in.bad())
    return Status::error("artifact " + path + ": read error");
  return fromBytes(std::move(bytes), path);
}

StatusOr<Artifact> Artifact::fromBytes(std::vector<uint8_t> contents, const std::string &path) {
  Artifact artifact;
  artifact.path_ = path;
  artifact.bytes_ = std::move(contents);
  const auto &bytes = artifact.bytes_;
  if (bytes.size() < 8 || !sl::schema::ArtifactBufferHasIdentifier(bytes.data()))
    return Status::error("artifact " + path +
                         ": not an slc artifact (no 'SLPK' file identifier; " +
                         std::to_string(bytes.size()) + " bytes)");
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), /*max_depth=*/64,
                                 /*max_tables=*/100000000);
  if (!sl::schema::VerifyArtifactBuffer(verifier))
    return Status::error("artifact " + path +
                         ": corrupt or truncated (flatbuffer verification failed)");
  uint32_t version = artifact.root().schema_version();
  if (version != sl::schema::kSchemaVersion)
    return Status::error("artifact " + path + ": schema version " + std::to_string(version) +
                         ", but this slrun reads version " +
                         std::to_string(sl::schema::kSchemaVersion) +
                         "; recompile the model with the matching slc");
  if (std::string problem = checkStructure(artifact.root()); !problem.empty())
    return Status::error("artifact " + path + ": corrupt (" + problem + ")");
  return artifact;
}

const sl::schema::Function *findFunction(const sl::schema::Plan &plan, const std::string &name) {
  for (const auto *function : *plan.functions())  // present, and named: checkStructure
    if (function->name()->str() == name)
      return function;
  return nullptr;
}

const sl::schema::Function *Artifact::function(const std::string &name) const {
  return findFunction(*root().plans()->Get(0), name);  // at least one plan: checkStructure
}

std::string Artifact::targets() const {
  std::string list;
  for (const auto *plan : *root().plans())
    if (plan->rank() == 0)
      list += (list.empty() ? "" : ", ") + plan->target()->str();
  return list;
}

int32_t Artifact::worldSize() const { return root().plans()->Get(0)->world_size(); }

std::vector<const sl::schema::Plan *> Artifact::ranksOf(const sl::schema::Plan &rankZero) const {
  std::vector<const sl::schema::Plan *> ranks;
  for (const auto *plan : *root().plans())
    if (plan->target()->str() == rankZero.target()->str())
      ranks.push_back(plan);  // consecutive, in rank order: checkStructure
  return ranks;
}

StatusOr<const sl::schema::Plan *> Artifact::planFor(int major, int minor) const {
  const std::string base = "sm_" + std::to_string(major) + std::to_string(minor);
  for (const std::string &target : {base + "a", base})
    for (const auto *plan : *root().plans())
      if (plan->target()->str() == target)
        return plan;
  return Status::error("artifact " + path_ + " has plans for " + targets() + ", none for this " +
                       base + " GPU (recompile with slc compile --target=" + base +
                       (major >= 9 ? "a" : "") + ")");
}

}  // namespace sl::runtime
