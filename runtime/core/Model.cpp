#include "runtime/core/Model.h"

#include "runtime/core/RandomWeights.h"
#include "runtime/io/Safetensors.h"

#include <nlohmann/json.hpp>

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
}  // namespace

StatusOr<std::unique_ptr<Model>> Model::load(const std::string &artifactPath,
                                             const std::string &weightsDir) {
  auto artifact = Artifact::load(artifactPath);
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
  std::vector<io::WeightSpec> specs;
  for (const auto *binding : *root.weights()) {
    auto dtype = weightDType(binding->dtype(), binding->name()->str());
    if (!dtype)
      return dtype.status();
    specs.push_back({binding->name()->str(), *dtype,
                     std::vector<int64_t>(binding->shape()->begin(), binding->shape()->end())});
  }
  if (Status status = io::checkBindings(*store, specs); !status)
    return Status::error("weights " + weightsDir + " do not match artifact " + artifactPath +
                         ":\n" + status.message());
  for (const io::WeightSpec &spec : specs) {
    auto bytes = io::materialize(*store, spec.name, spec.dtype, spec.shape);
    if (!bytes)
      return bytes.status();
    model->weights_.push_back(std::move(*bytes));
  }
  model->readAttributes();
  return model;
}

StatusOr<std::unique_ptr<Model>> Model::synthesize(const std::string &artifactPath,
                                                   uint64_t seed, bool materialize) {
  auto artifact = Artifact::load(artifactPath);
  if (!artifact)
    return artifact.status();
  std::unique_ptr<Model> model(new Model(std::move(*artifact)));
  model->randomSeed_ = seed;
  if (materialize)
    model->weights_ = randomWeights(model->artifact_, seed);
  model->readAttributes();
  return model;
}

void Model::readAttributes() {
  nlohmann::json attributes = nlohmann::json::parse(artifact_.root().model()->str(), nullptr,
                                                    /*allow_exceptions=*/false);
  if (attributes.is_object() && attributes.contains("sl.vocab_size") &&
      attributes["sl.vocab_size"].is_number_integer())
    vocab_ = attributes["sl.vocab_size"].get<int64_t>();
}

}  // namespace sl::runtime
