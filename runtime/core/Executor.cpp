#include "runtime/core/Executor.h"

#include "runtime/math/SuperlinearMath.h"

namespace sl::runtime {

Status checkCall(const sl::schema::Function &function, const Session &session, size_t inputs,
                 int64_t tokens) {
  auto fail = [&](const std::string &message) {
    return Status::error("slrun: " + function.name()->str() + ": " + message);
  };
  if (tokens < 1 || tokens > function.max_tokens())
    return fail("called with " + std::to_string(tokens) + " tokens; the function takes 1 to " +
                std::to_string(function.max_tokens()));
  if (inputs != function.inputs()->size())
    return fail("expects " + std::to_string(function.inputs()->size()) + " inputs, got " +
                std::to_string(inputs));
  if (function.states()->size() > 0 && session.length() + tokens > session.capacity())
    return fail("the session holds " + std::to_string(session.length()) + " tokens; " +
                std::to_string(tokens) + " more exceed its capacity of " +
                std::to_string(session.capacity()) + " (raise --max-context)");
  return Status::success();
}

std::vector<int32_t> spanReachTable(const sl::schema::MultiStepConfig &msa, int64_t start,
                                    int64_t tokens) {
  std::vector<int32_t> reach;
  for (int64_t pos = start; pos < start + tokens; ++pos) {
    reach.push_back(int32_t(sl::math::spanReach(pos, msa.backward_factor(), msa.span_power())));
    reach.push_back(int32_t(sl::math::spanReach(pos, msa.forward_factor(), msa.span_power())));
  }
  return reach;
}

Tensor outputTensor(const sl::schema::Function &function, size_t i, int64_t tokens) {
  const auto *spec = function.outputs()->Get(i);
  Tensor tensor;
  tensor.dtype = spec->dtype();
  int64_t elements = 1;
  for (int64_t dim : *spec->shape()) {
    tensor.shape.push_back(dim < 0 ? tokens : dim);
    elements *= tensor.shape.back();
  }
  tensor.bytes.resize(size_t(elements) * dtypeBytes(tensor.dtype));
  return tensor;
}

}  // namespace sl::runtime
