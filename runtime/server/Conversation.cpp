#include "runtime/server/Conversation.h"

#include "runtime/server/Snapshot.h"

#include "runtime/app/Backends.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <unistd.h>

namespace sl::server {

using runtime::Session;
using Clock = std::chrono::steady_clock;

namespace {
std::mutex logMutex;

double secondsSince(Clock::time_point begin) {
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

// A prefill of at least this many chunks logs its phases.
constexpr int64_t kLongPrefillChunks = 4;
}  // namespace

void logLine(const std::string &line) {
  std::lock_guard<std::mutex> lock(logMutex);
  std::cerr << "slrun: " << line << std::endl;
}

std::string modelId(const std::string &artifact) {
  const size_t slash = artifact.find_last_of('/');
  return slash == std::string::npos ? artifact : artifact.substr(slash + 1);
}

Status loadEngine(LoadedModel &loaded) {
  const ModelConfig &config = loaded.config;
  auto begin = Clock::now();
  logLine("loading " + config.artifact + " and the weights of " + config.weights + " ...");
  auto model = runtime::Model::load(config.artifact, config.weights);
  if (!model)
    return model.status();
  loaded.model = std::move(*model);
  size_t weightBytes = 0;
  for (const auto &weight : loaded.model->weights())
    weightBytes += weight.size();
  logLine("loaded " + std::to_string(loaded.model->weights().size()) + " weight tensors (" +
          fixed(weightBytes / 1048576.0, 1) + " MiB) in " + fixed(secondsSince(begin), 2) +
          " s");
  auto executor = runtime::makeExecutor(config.device, *loaded.model);
  if (!executor)
    return executor.status();
  loaded.engine = std::make_unique<runtime::Engine>(*loaded.model, std::move(*executor));
  if (loaded.tokenizer && loaded.tokenizer->vocabSize() > loaded.engine->vocab())
    logLine("warning: the tokenizer has " + std::to_string(loaded.tokenizer->vocabSize()) +
            " tokens, the model " + std::to_string(loaded.engine->vocab()));
  return Status::success();
}

StatusOr<std::unique_ptr<LoadedModel>> loadModel(const ModelConfig &config) {
  auto loaded = std::make_unique<LoadedModel>();
  loaded->config = config;
  loaded->id = modelId(config.artifact);

  // The tokenizer first: a broken tokenizer.json fails before gigabytes of weights are read.
  auto tokenizer = text::Tokenizer::load(config.weights);
  if (!tokenizer)
    return tokenizer.status();
  loaded->tokenizer.emplace(std::move(*tokenizer));
  loaded->eos = loaded->tokenizer->eos();
  auto chatTemplate = text::ChatTemplate::load(config.weights);
  if (chatTemplate) {
    loaded->chatTemplate.emplace(std::move(*chatTemplate));
  } else {
    loaded->chatTemplateError = chatTemplate.status().message();
    logLine("no chat template (chat requests are refused): " + loaded->chatTemplateError);
  }
  logLine("tokenizer: " + std::to_string(loaded->tokenizer->vocabSize()) + " tokens, " +
          std::to_string(loaded->eos.size()) + " eos");

  if (Status status = loadEngine(*loaded); !status)
    return status;
  auto begin = Clock::now();
  auto fingerprint = computeFingerprint(*loaded->model);
  if (!fingerprint)
    return fingerprint.status();
  loaded->fingerprint = *fingerprint;
  logLine("fingerprint " + fingerprintHex(loaded->fingerprint) + " in " +
          fixed(secondsSince(begin), 2) + " s");
  return loaded;
}

const char *reuseName(Reuse reuse) {
  switch (reuse) {
  case Reuse::none:
    return "none";
  case Reuse::extend:
    return "extend";
  case Reuse::checkpoint:
    return "checkpoint";
  }
  return "none";
}

Conversation::Conversation(const LoadedModel &model)
    : model_(model), session_(model.model->artifact(), model.config.capacity) {}

void Conversation::reset() {
  session_.reset();
  history_.clear();
  checkpoints_.clear();
}

Status Conversation::addCheckpoint() {
  // On a device backend the Mamba states come to the host buffers first.
  if (Status status = model_.engine->executor().stateToHost(session_, /*kv=*/false); !status)
    return status;
  Checkpoint checkpoint;
  checkpoint.length = session_.length();
  if (!checkpoints_.empty() && checkpoints_.back().length == checkpoint.length)
    checkpoints_.pop_back();
  for (size_t i = 0; i < session_.slotCount(); ++i) {
    checkpoint.conv.push_back(session_.state(i).conv);
    checkpoint.ssm.push_back(session_.state(i).ssm);
  }
  checkpoints_.push_back(std::move(checkpoint));
  while (checkpoints_.size() > kMaxCheckpoints)
    checkpoints_.pop_front();
  return Status::success();
}

Status Conversation::restore(const Checkpoint &checkpoint) {
  for (size_t i = 0; i < session_.slotCount(); ++i) {
    session_.state(i).conv = checkpoint.conv[i];
    session_.state(i).ssm = checkpoint.ssm[i];
  }
  session_.restoreLength(checkpoint.length);
  history_.resize(checkpoint.length);
  return model_.engine->executor().stateToDevice(session_, /*kv=*/false);
}

int64_t Conversation::reusePrefix(const std::vector<int32_t> &prompt, Reuse *how) {
  *how = Reuse::none;
  auto isPrefix = [&](size_t length) {
    return length < prompt.size() && length <= history_.size() &&
           std::equal(history_.begin(), history_.begin() + length, prompt.begin());
  };
  if (!history_.empty() && isPrefix(history_.size())) {
    *how = Reuse::extend;
    return int64_t(history_.size());
  }
  // Checkpoints are in increasing length; the ones past a divergence are of another history.
  for (auto it = checkpoints_.rbegin(); it != checkpoints_.rend(); ++it) {
    if (it->length > 0 && it->length <= int64_t(history_.size()) && isPrefix(it->length)) {
      Checkpoint checkpoint = std::move(*it);
      checkpoints_.erase(it.base() - 1, checkpoints_.end());
      if (Status status = restore(checkpoint); !status) {
        // The prompt is then prefilled from the start: slower, same result.
        logLine("checkpoint not restored (" + status.message() + "); prefilling from the start");
        break;
      }
      checkpoints_.push_back(std::move(checkpoint));
      *how = Reuse::checkpoint;
      return session_.length();
    }
  }
  reset();
  return 0;
}

std::string StopFilter::push(const std::string &text, bool *hit) {
  *hit = false;
  pending_ += text;
  if (stops_.empty()) {
    std::string out;
    out.swap(pending_);
    return out;
  }
  size_t first = std::string::npos;
  for (const std::string &stop : stops_) {
    size_t at = pending_.find(stop);
    if (at != std::string::npos && (first == std::string::npos || at < first))
      first = at;
  }
  if (first != std::string::npos) {
    *hit = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of a stop string.
  size_t hold = 0;
  for (const std::string &stop : stops_)
    for (size_t n = std::min(stop.size() - 1, pending_.size()); n > hold; --n)
      if (pending_.compare(pending_.size() - n, n, stop, 0, n) == 0) {
        hold = n;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopFilter::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

StatusOr<GenerateResult> generate(LoadedModel &model, Conversation &conversation,
                                  const GenerateRequest &request,
                                  const std::function<bool(const std::string &)> &onText,
                                  const std::atomic<bool> *cancel) {
  GenerateResult result;
  const std::vector<int32_t> &prompt = request.prompt;
  Session &session = conversation.session();
  if (prompt.empty())
    return Status::error("the prompt is empty");
  if (int64_t(prompt.size()) >= session.capacity())
    return Status::error("the prompt of " + std::to_string(prompt.size()) +
                         " tokens does not fit the context of " +
                         std::to_string(session.capacity()) + " tokens");
  if (Status status = model.engine->checkTokens(prompt); !status)
    return status;
  auto sampler = runtime::Sampler::create(request.sampling);
  if (!sampler)
    return sampler.status();

  result.promptTokens = int64_t(prompt.size());
  if (request.reusePrefix) {
    result.cachedTokens = conversation.reusePrefix(prompt, &result.reuse);
  } else {
    conversation.reset();
  }

  // Prefill of the new tokens, chunk by chunk (logged when long, a bar on a terminal).
  auto begin = Clock::now();
  std::vector<int32_t> rest(prompt.begin() + result.cachedTokens, prompt.end());
  result.prefilledTokens = int64_t(rest.size());
  int64_t chunk = model.config.chunk;
  if (const auto *prefill = model.model->artifact().function("prefill"))
    if (chunk <= 0 || chunk > prefill->max_tokens())
      chunk = prefill->max_tokens();
  if (chunk <= 0)
    chunk = int64_t(rest.size());
  int64_t chunks = (int64_t(rest.size()) + chunk - 1) / chunk;
  bool logged = chunks >= kLongPrefillChunks;
  bool bar = logged && isatty(STDERR_FILENO);
  if (logged)
    logLine("prefill of " + std::to_string(rest.size()) + " tokens in " +
            std::to_string(chunks) + " chunks of " + std::to_string(chunk) + " ...");
  std::vector<float> logits;
  auto &history = conversation.mutableHistory();
  // Chunk starts; one at the turn boundary so that a checkpoint can be taken there.
  int64_t boundary = request.boundary - result.cachedTokens;
  if (boundary <= 0 || boundary >= int64_t(rest.size()))
    boundary = 0;
  for (int64_t first = 0; first < int64_t(rest.size());) {
    if (boundary > 0 && first == boundary)
      if (Status status = conversation.addCheckpoint(); !status) {
        conversation.reset();
        return status;
      }
    if (cancel && cancel->load()) {
      // The state holds what was prefilled so far; keep the history consistent with it.
      result.finishReason = "cancelled";
      result.prefillSeconds = secondsSince(begin);
      if (bar)
        std::cerr << "\n";
      return result;
    }
    int64_t end = std::min<int64_t>(first + chunk, int64_t(rest.size()));
    if (boundary > first && boundary < end)
      end = boundary;
    int64_t count = end - first;
    std::vector<int32_t> piece(rest.begin() + first, rest.begin() + first + count);
    auto out = model.engine->prefill(session, piece, chunk, /*allPositions=*/false);
    if (!out) {
      conversation.reset();
      return out.status();
    }
    history.insert(history.end(), piece.begin(), piece.end());
    logits = std::move(*out);
    if (bar) {
      int64_t done = first + count, width = 40;
      int64_t filled = width * done / int64_t(rest.size());
      std::lock_guard<std::mutex> lock(logMutex);
      std::cerr << "\rslrun: prefill [" << std::string(filled, '#')
                << std::string(width - filled, '.') << "] " << done << "/" << rest.size()
                << std::flush;
    }
    first = end;
  }
  result.prefillSeconds = secondsSince(begin);
  if (bar)
    std::cerr << "\n";
  if (logged)
    logLine("prefill done in " + fixed(result.prefillSeconds, 2) + " s (" +
            fixed(rest.size() / std::max(result.prefillSeconds, 1e-9), 1) + " tok/s)");
  if (Status status = conversation.addCheckpoint(); !status) {
    conversation.reset();
    return status;
  }

  // Sampling and decode steps.
  begin = Clock::now();
  text::DecodeStream stream(*model.tokenizer, /*skipSpecial=*/true);
  StopFilter filter(request.stop);
  bool stopped = false, cancelled = false;
  auto emit = [&](const std::string &piece) {
    if (piece.empty())
      return true;
    result.text += piece;
    return onText ? onText(piece) : true;
  };
  while (true) {
    if (cancel && cancel->load()) {
      cancelled = true;
      break;
    }
    if (result.completionTokens >= request.maxTokens) {
      result.finishReason = "length";
      break;
    }
    auto token = sampler->sample(logits);
    if (!token) {
      // Whatever made the logits unusable may live in the state (NaN in a Mamba state): start
      // the conversation afresh rather than keep failing on it.
      conversation.reset();
      return token.status();
    }
    ++result.completionTokens;
    if (!request.ignoreEos &&
        std::find(model.eos.begin(), model.eos.end(), *token) != model.eos.end()) {
      result.finishReason = "stop";
      break;
    }
    bool hit = false;
    std::string piece = filter.push(stream.push(*token), &hit);
    if (!emit(piece)) {
      cancelled = true;
      break;
    }
    if (hit) {
      result.finishReason = "stop";
      stopped = true;
      break;
    }
    if (result.completionTokens >= request.maxTokens) {
      result.finishReason = "length";
      break;
    }
    if (session.length() + 1 > session.capacity()) {
      result.finishReason = "length";
      break;
    }
    auto next = model.engine->decode(session, *token);
    if (!next) {
      conversation.reset();
      return next.status();
    }
    ++result.decodeSteps;
    history.push_back(*token);
    logits = std::move(*next);
  }
  if (cancelled) {
    result.finishReason = "cancelled";
  } else if (!stopped) {
    bool hit = false;
    std::string tail = filter.push(stream.flush(), &hit);
    if (hit) {
      result.finishReason = "stop";
      emit(tail);
    } else {
      emit(tail + filter.flush());
    }
  }
  result.decodeSeconds = secondsSince(begin);
  return result;
}

}  // namespace sl::server
