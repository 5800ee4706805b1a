#include "runtime/core/Backend.h"

#include <cassert>

namespace sl::runtime {

void BackendRegistry::add(Backend backend) {
  assert(backend.create && "a backend must create executors");
  for ([[maybe_unused]] const Backend &known : backends_)
    assert(known.name != backend.name && "backend registered twice");
  backends_.push_back(std::move(backend));
}

StatusOr<const Backend *> BackendRegistry::find(const std::string &name) const {
  for (const Backend &backend : backends_)
    if (backend.name == name)
      return &backend;
  return Status::error("--device must be " + names() + ", got '" + name + "'");
}

std::string BackendRegistry::names() const {
  std::string text;
  for (size_t i = 0; i < backends_.size(); ++i)
    text += (i == 0 ? "" : i + 1 == backends_.size() ? " or " : ", ") + backends_[i].name;
  return text.empty() ? "a registered backend (none is)" : text;
}

}  // namespace sl::runtime
