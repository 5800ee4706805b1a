// What `slrun serve` and `slrun chat` share: the loaded model (engine, tokenizer, chat template,
// fingerprint), a conversation (a session, the token ids its state holds and checkpoints at turn
// boundaries) and text generation with prefix reuse, stop strings and cancellation.
#pragma once

#include "runtime/app/Engine.h"
#include "runtime/text/ChatTemplate.h"
#include "runtime/text/Tokenizer.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sl::server {

// One line on stderr, prefixed with the command name.
void logLine(const std::string &line);

struct ModelConfig {
  std::string artifact, weights;
  int64_t capacity = 4096;  // session capacity in tokens (--max-context)
  int64_t chunk = 0;        // prefill chunk (--chunk; 0 = the prefill function's capacity)
  std::string device = "cpu";  // --device: cpu or cuda
};

// The model a command serves. Built once, then read-only except for the engine, which only the
// thread that runs generations uses.
struct LoadedModel {
  ModelConfig config;
  std::unique_ptr<runtime::Model> model;
  std::unique_ptr<runtime::Engine> engine;
  std::optional<text::Tokenizer> tokenizer;
  std::optional<text::ChatTemplate> chatTemplate;  // absent: chat requests are refused
  std::string chatTemplateError;                    // why it is absent
  std::string id;                                   // the artifact's file name
  uint64_t fingerprint = 0;                         // artifact + weights (Snapshot.h)
  std::vector<int32_t> eos;
};

// Loads the tokenizer and chat template of the weights directory, the artifact and weights
// (loadEngine), and computes the fingerprint; logs one line per phase.
StatusOr<std::unique_ptr<LoadedModel>> loadModel(const ModelConfig &config);

// The artifact and weights of `loaded.config` on its device: sets `loaded.model` and
// `loaded.engine` (the tokenizer, when set, is checked against the model's vocabulary); logs.
Status loadEngine(LoadedModel &loaded);

// A model's id in the API: the artifact's file name.
std::string modelId(const std::string &artifact);

// The Mamba states of a conversation after `length` tokens. KV rows below `length` are not
// copied: later calls only write rows at or past the session's length, so they stay valid.
struct Checkpoint {
  int64_t length = 0;
  std::vector<std::vector<uint8_t>> conv, ssm;  // per state slot (empty for KV slots)
};

enum class Reuse { none, extend, checkpoint };
const char *reuseName(Reuse reuse);

class Conversation {
public:
  static constexpr size_t kMaxCheckpoints = 8;

  explicit Conversation(const LoadedModel &model);

  runtime::Session &session() { return session_; }
  const runtime::Session &session() const { return session_; }
  // The token ids whose effect the state holds (history().size() == session().length()).
  const std::vector<int32_t> &history() const { return history_; }
  std::vector<int32_t> &mutableHistory() { return history_; }
  size_t checkpointCount() const { return checkpoints_.size(); }
  const std::deque<Checkpoint> &checkpoints() const { return checkpoints_; }
  // Replaces the checkpoints (each a prefix of history(), in increasing length).
  void setCheckpoints(std::deque<Checkpoint> checkpoints) { checkpoints_ = std::move(checkpoints); }

  void reset();
  // Brings the state to the longest prefix of `prompt`, strictly shorter than it, that it can
  // reach without recomputation: the current history when `prompt` extends it, else the longest
  // checkpoint that is a prefix of `prompt`, else empty. Returns the number of tokens kept.
  int64_t reusePrefix(const std::vector<int32_t> &prompt, Reuse *how);
  // Records a checkpoint at the current length (the oldest is dropped past kMaxCheckpoints).
  Status addCheckpoint();

private:
  Status restore(const Checkpoint &checkpoint);
  const LoadedModel &model_;
  runtime::Session session_;
  std::vector<int32_t> history_;
  std::deque<Checkpoint> checkpoints_;
};

struct GenerateRequest {
  std::vector<int32_t> prompt;
  int64_t maxTokens = 16;  // >= 1
  runtime::SamplingParams sampling;
  std::vector<std::string> stop;  // cut the text, not returned
  bool reusePrefix = true;        // false: always prefill the whole prompt
  bool ignoreEos = false;         // keep generating past eos tokens
  // A turn boundary inside the prompt (e.g. the end of the last message, before the generation
  // prompt): when past the reused prefix, a checkpoint is also taken there. 0 = none.
  int64_t boundary = 0;
};

struct GenerateResult {
  std::string text;
  int64_t promptTokens = 0, completionTokens = 0, cachedTokens = 0, prefilledTokens = 0;
  std::string finishReason;  // "stop", "length" or "cancelled"
  Reuse reuse = Reuse::none;
  double prefillSeconds = 0, decodeSeconds = 0;
  int64_t decodeSteps = 0;
};

// Prefills what the conversation does not hold yet, checkpoints, then samples up to maxTokens
// tokens; an eos token or a stop string ends with "stop", maxTokens or the session capacity with
// "length". `onText` receives the text as it becomes final (stop strings held back until they
// can no longer match); returning false, or `cancel` becoming true, ends with "cancelled".
StatusOr<GenerateResult> generate(LoadedModel &model, Conversation &conversation,
                                  const GenerateRequest &request,
                                  const std::function<bool(const std::string &)> &onText,
                                  const std::atomic<bool> *cancel);

// Holds back text that may be the start of a stop string.
class StopFilter {
public:
  explicit StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Appends `text`; returns what can be emitted. `*hit` is set when a stop string completed (the
  // text before it is returned, the rest dropped).
  std::string push(const std::string &text, bool *hit);
  std::string flush();

private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace sl::server
