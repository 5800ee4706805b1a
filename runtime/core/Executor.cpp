#include "runtime/core/Executor.h"

#include <algorithm>
#include <atomic>

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

int64_t outputRowCount(OutputRows rows, int64_t tokens) {
  return rows == OutputRows::all    ? tokens
         : rows == OutputRows::last ? std::min<int64_t>(tokens, 1)
                                    : 0;
}

Tensor outputTensor(const sl::schema::Function &function, size_t i, int64_t tokens,
                    OutputRows rows, size_t *offset) {
  const auto *spec = function.outputs()->Get(i);
  Tensor tensor;
  tensor.dtype = spec->dtype();
  const bool perToken = spec->shape()->size() > 0 && spec->shape()->Get(0) < 0;
  const int64_t kept = perToken ? outputRowCount(rows, tokens) : tokens;
  int64_t rowElements = 1;
  for (size_t d = 0; d < spec->shape()->size(); ++d) {
    int64_t dim = spec->shape()->Get(d);
    tensor.shape.push_back(dim < 0 ? (d == 0 ? kept : tokens) : dim);
    if (d > 0)
      rowElements *= tensor.shape.back();
  }
  const size_t rowBytes = size_t(rowElements) * dtypeBytes(tensor.dtype);
  tensor.bytes.resize(spec->shape()->size() == 0 ? dtypeBytes(tensor.dtype)
                                                 : size_t(tensor.shape[0]) * rowBytes);
  *offset = perToken && rows == OutputRows::last && tokens > 0 ? size_t(tokens - 1) * rowBytes : 0;
  return tensor;
}

StatusOr<int64_t> captureOffset(const sl::schema::Function &function, const Capture &capture,
                                int64_t rows, int64_t skippedRows) {
  const std::string what = function.name()->str() + ": capture of argument " +
                           std::to_string(capture.arg) + " of launch " +
                           std::to_string(capture.launch);
  if (capture.launch >= function.launches()->size())
    return Status::error(what + ": the function has " +
                         std::to_string(function.launches()->size()) + " launches");
  const auto *args = function.launches()->Get(capture.launch)->args();
  if (capture.arg >= args->size() || args->Get(capture.arg)->kind() != sl::schema::ArgKind::buffer)
    return Status::error(what + ": not an arena buffer argument");
  const auto *arg = args->Get(capture.arg);
  if (arg->index() < 0 || size_t(arg->index()) >= function.buffers()->size())
    return Status::error(what + ": buffer " + std::to_string(arg->index()) + " does not exist");
  const auto *buffer = function.buffers()->Get(arg->index());
  const int64_t start = arg->byte_offset() + skippedRows * arg->row_bytes();
  // Bounded by the buffer, so that a wrong row size cannot read past it (or past the arena).
  if (capture.rowBytes < 0 || rows < 0 || start < 0 ||
      (capture.rowBytes > 0 && rows > (buffer->bytes() - start) / capture.rowBytes))
    return Status::error(what + ": " + std::to_string(rows) + " rows of " +
                         std::to_string(capture.rowBytes) + " bytes from byte " +
                         std::to_string(start) + " exceed its " +
                         std::to_string(buffer->bytes()) + "-byte buffer");
  return buffer->offset() + start;
}

Executor::Executor(const sl::schema::Plan &plan) : plan_(&plan) {
  static std::atomic<uint64_t> nextId{1};
  id_ = nextId++;
}

StatusOr<const sl::schema::Function *> Executor::own(const sl::schema::Function &function) const {
  const std::string name = function.name()->str();
  if (const auto *own = findFunction(*plan_, name))
    return own;
  return Status::error("slrun: the " + plan_->target()->str() + " plan has no function '" + name +
                       "'");
}

Status Executor::checkOwner(const Session &session) const {
  const BackendState *state = session.backendState();
  if (!state || state->executor() == id_)
    return Status::success();
  return Status::error("the session belongs to another executor (the one of its first call; "
                       "its state lives there): make a new session for this executor");
}

void Executor::setCaptures(const std::string &function, std::vector<Capture> captures) {
  if (captures.empty())
    captures_.erase(function);
  else
    captures_[function] = std::move(captures);
}

const std::vector<Capture> *Executor::capturesOf(const std::string &function) const {
  auto found = captures_.find(function);
  return found == captures_.end() ? nullptr : &found->second;
}

}  // namespace sl::runtime
