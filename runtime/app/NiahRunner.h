// Where `slrun niah` sends its prompts: the model in this process (the server's conversation
// code: prefix reuse through Mamba-state checkpoints, greedy decoding, eos stops) or an
// OpenAI-compatible server (--url). See docs/niah.md.
#pragma once

#include "runtime/app/Haystack.h"
#include "runtime/io/HttpClient.h"
#include "runtime/server/Conversation.h"

#include <memory>
#include <string>

namespace sl::runtime {

struct NiahReply {
  std::string text;              // decoded, up to eos
  int64_t prefilledTokens = -1;  // prompt tokens computed (-1: the server did not say)
  int64_t serverPromptTokens = -1;  // --url: the server's count of prompt tokens
};

class NiahRunner {
public:
  virtual ~NiahRunner() = default;
  // The prompts of one length follow, their sessions hold `capacity` tokens.
  virtual Status beginLength(int64_t length, int64_t capacity) = 0;
  // `sharedTokens`: the prompt's first tokens that the following prompts share (where a
  // checkpoint pays off).
  virtual StatusOr<NiahReply> run(const NiahPrompt &prompt, int64_t maxNewTokens,
                                  int64_t sharedTokens) = 0;
  virtual void endLength() {}
  // "device": "cpu" or "url": "http://..." of the JSON lines.
  virtual std::string whereKey() const = 0;
  virtual std::string where() const = 0;
  virtual std::string model() const = 0;
};

// The model of `loaded` (whose tokenizer and chat template are set) on `device`: loads the
// artifact and weights and makes the engine.
StatusOr<std::unique_ptr<NiahRunner>> makeLocalRunner(server::LoadedModel &loaded,
                                                      const std::string &artifact,
                                                      const std::string &weights,
                                                      const std::string &device, int64_t chunk);

struct NiahServer {
  io::HttpUrl url;
  std::string model, apiKey;
  io::HttpOptions http;
};
std::unique_ptr<NiahRunner> makeUrlRunner(NiahServer server);

}  // namespace sl::runtime
