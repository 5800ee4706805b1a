#include "runtime/app/Engine.h"

#include <algorithm>
#include <cstring>

namespace sl::runtime {

StatusOr<const sl::schema::Function *> Engine::function(const char *name) const {
  const auto *function = model_.artifact().function(name);
  if (!function)
    return Status::error("artifact " + model_.artifact().path() + " has no '" + name +
                         "' function (was it compiled from a model with slc compile?)");
  return function;
}

int64_t Engine::vocab() const {
  if (model_.vocabSize() > 0)
    return model_.vocabSize();
  // Fall back to the logits output of the prefill function.
  const auto *prefill = model_.artifact().function("prefill");
  if (prefill && prefill->outputs()->size() > 0)
    return prefill->outputs()->Get(0)->shape()->Get(1);
  return 0;
}

Status Engine::checkTokens(const std::vector<int32_t> &tokens) const {
  int64_t v = vocab();
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= v)
      return Status::error("token id " + std::to_string(tokens[i]) + " at position " +
                           std::to_string(i) + " is outside the vocabulary [0, " +
                           std::to_string(v) + ")");
  return Status::success();
}

namespace {
// The first output of a call (the logits) must hold `rows` rows of `vocab` floats: an artifact
// whose sl.vocab_size attribute disagrees with its logits would have them read past their end.
Status checkLogits(const std::vector<Tensor> &outputs, int64_t rows, int64_t vocab,
                   const std::string &path) {
  if (outputs.empty() || outputs[0].dtype != sl::schema::DType::f32 ||
      outputs[0].bytes.size() != size_t(rows) * size_t(vocab) * sizeof(float))
    return Status::error("artifact " + path + ": the logits output is not float32 [" +
                         std::to_string(rows) + ", " + std::to_string(vocab) +
                         "] (the vocabulary size the artifact declares)");
  return Status::success();
}
}  // namespace

StatusOr<std::vector<float>> Engine::prefill(Session &session, const std::vector<int32_t> &tokens,
                                             int64_t chunk, bool allPositions) {
  auto fn = function("prefill");
  if (!fn)
    return fn.status();
  if (tokens.empty())
    return Status::error("prefill of an empty prompt");
  if (Status status = checkTokens(tokens); !status)
    return status;
  int64_t capacity = (*fn)->max_tokens();
  if (chunk <= 0 || chunk > capacity)
    chunk = capacity;
  const int64_t v = vocab();
  std::vector<float> logits;
  for (size_t first = 0; first < tokens.size(); first += chunk) {
    int64_t count = std::min<int64_t>(chunk, tokens.size() - first);
    const bool last = first + count == tokens.size();
    // Only the logits the caller asked for come back from the backend.
    OutputRows wanted = allPositions ? OutputRows::all : last ? OutputRows::last : OutputRows::none;
    auto outputs = executor_->call(**fn, session, {tokens.data() + first}, count, wanted);
    if (!outputs)
      return outputs.status();
    if (Status status = checkLogits(*outputs, outputRowCount(wanted, count), v,
                                    model_.artifact().path());
        !status)
      return status;
    const float *rows = reinterpret_cast<const float *>((*outputs)[0].bytes.data());
    if (allPositions)
      logits.insert(logits.end(), rows, rows + count * v);
    else if (last)
      logits.assign(rows, rows + v);
  }
  return logits;
}

StatusOr<std::vector<float>> Engine::decode(Session &session, int32_t token) {
  auto fn = function("decode");
  if (!fn)
    return fn.status();
  if (Status status = checkTokens({token}); !status)
    return status;
  auto outputs = executor_->call(**fn, session, {&token}, 1);
  if (!outputs)
    return outputs.status();
  if (Status status = checkLogits(*outputs, 1, vocab(), model_.artifact().path()); !status)
    return status;
  const float *row = reinterpret_cast<const float *>((*outputs)[0].bytes.data());
  return std::vector<float>(row, row + vocab());
}

StatusOr<std::vector<int32_t>> Engine::generate(Session &session,
                                                const std::vector<int32_t> &prompt,
                                                int64_t newTokens, Sampler &sampler,
                                                int64_t chunk) {
  auto logits = prefill(session, prompt, chunk, /*allPositions=*/false);
  if (!logits)
    return logits.status();
  std::vector<int32_t> generated;
  while (int64_t(generated.size()) < newTokens) {
    auto next = sampler.sample(*logits);
    if (!next)
      return next.status();
    generated.push_back(*next);
    if (int64_t(generated.size()) == newTokens)
      break;
    logits = decode(session, *next);
    if (!logits)
      return logits.status();
  }
  return generated;
}

}  // namespace sl::runtime
