#include "runtime/core/Model.h"

#include "runtime/core/MemoryBudget.h"
#include "runtime/core/RandomWeights.h"
#include "runtime/io/Files.h"
#include "runtime/io/Json.h"
#include "runtime/io/Safetensors.h"

namespace sl::runtime {

namespace {
StatusOr<io::WeightDType> weightDType(sl::schema::DType dtype, const std::string &name) {
  switch (dtype) {
  case sl::schema::DType::f32:
    return io::WeightDType::F32;
  case sl::schema::DType::f16:
    return io::WeightDType::F16;
  case sl::schema::DType::bf16:
    return io::WeightDType::BF16;
  default:
    return Status::error("weight binding " + name + " has an integer dtype");
  }
}

StatusOr<Artifact> loadArtifact(const std::string &path) {
  if (Status status = io::checkRegularFile(path, "artifact"); !status)
    return status;
  return Artifact::load(path);
}

// The host copy of the weights must fit what the machine has left (checked before it is made).
Status checkWeightsFit(const Artifact &artifact, const std::string &what) {
  auto bytes = weightBytes(artifact);
  if (!bytes)
    return bytes.status();
  return checkFits(what + " of artifact " + artifact.path(), *bytes, availableHostBytes(),
                   "host memory");
}
}  // namespace

StatusOr<std::unique_ptr<Model>> Model::load(const std::string &artifactPath,
                                             const std::string &weightsDir) {
  auto artifact = loadArtifact(artifactPath);
  if (!artifact)
    return artifact.status();
  std::unique_ptr<Model> model(new Model(std::move(*artifact)));
  const auto &root = model->artifact_.root();
  if (weightsDir.empty()) {
    if (root.weights()->size() > 0)
      return Status::error("artifact " + artifactPath + " binds " +
                           std::to_string(root.weights()->size()) +
                           " checkpoint tensors: pass --weights <model directory>");
    model->readAttributes();
    return model;
  }
  auto store = io::WeightStore::open(weightsDir);
  if (!store)
    return store.status();
  // A rank's binding of a tensor-parallel model is checked against the whole tensor and reads
  // its slice of it.
  std::vector<io::WeightSpec> specs;
  std::vector<std::vector<io::WeightSlice>> slices;
  for (const auto *binding : *root.weights()) {
    auto dtype = weightDType(binding->dtype(), binding->name()->str());
    if (!dtype)
      return dtype.status();
    const bool sliced = binding->ranges() && binding->ranges()->size() > 0;
    const auto &shape = sliced ? *binding->checkpoint_shape() : *binding->shape();
    specs.push_back({binding->name()->str(), *dtype,
                     std::vector<int64_t>(shape.begin(), shape.end())});
    // One slice per dimension (checked on load: grouped, ascending).
    slices.emplace_back();
    if (sliced)
      for (const auto *range : *binding->ranges()) {
        if (slices.back().empty() || slices.back().back().dim != range->dim())
          slices.back().push_back({range->dim(), {}});
        slices.back().back().pieces.emplace_back(range->offset(), range->size());
      }
  }
  if (Status status = io::checkBindings(*store, specs); !status)
    return Status::error("weights " + weightsDir + " do not match artifact " + artifactPath +
                         ":\n" + status.message());
  if (Status status = checkWeightsFit(model->artifact_, "the weights"); !status)
    return status;
  for (size_t i = 0; i < specs.size(); ++i) {
    const io::WeightSpec &spec = specs[i];
    auto bytes = io::materialize(*store, spec.name, spec.dtype, spec.shape, slices[i]);
    if (!bytes)
      return bytes.status();
    model->weights_.push_back(std::move(*bytes));
  }
  model->readAttributes();
  return model;
}

StatusOr<std::unique_ptr<Model>> Model::synthesize(const std::string &artifactPath,
                                                   uint64_t seed, bool materialize) {
  auto artifact = loadArtifact(artifactPath);
  if (!artifact)
    return artifact.status();
  std::unique_ptr<Model> model(new Model(std::move(*artifact)));
  model->randomSeed_ = seed;
  if (materialize) {
    if (Status status =
            checkWeightsFit(model->artifact_, "the synthetic weights (--random-weights)");
        !status)
      return status;
    model->weights_ = randomWeights(model->artifact_, seed);
  }
  model->readAttributes();
  return model;
}

void Model::readAttributes() {
  const auto *text = artifact_.root().model();
  if (!text)
    return;
  auto parsed = io::parseJson(text->str());
  if (!parsed)
    return;
  const nlohmann::json &attributes = *parsed;
  if (attributes.is_object() && attributes.contains("sl.vocab_size") &&
      attributes["sl.vocab_size"].is_number_integer())
    vocab_ = attributes["sl.vocab_size"].get<int64_t>();
}

}  // namespace sl::runtime
