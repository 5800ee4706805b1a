// A completion request body as `slrun serve` receives it: the limited parse, then validation,
// chat-template rendering and tokenization with the real tokenizer and template of models/tiny
// (chat when the first byte is even, text completion otherwise). Every rejection is a 4xx with
// a message; an accepted request has a prompt that fits the context, token ids in the
// vocabulary and a generation budget that fits what is left.
#include "FuzzSupport.h"

#include "runtime/server/Requests.h"

#include <string>
#include <string_view>

namespace {

const sl::server::RequestContext &context() {
  static const sl::server::RequestContext *shared = [] {
    static auto tokenizer = sl::text::Tokenizer::load(std::string(SL_SOURCE_DIR) + "/models/tiny");
    if (!tokenizer.ok())
      sl::fuzz::fail("cannot load models/tiny's tokenizer", tokenizer.status().message());
    static auto chatTemplate =
        sl::text::ChatTemplate::load(std::string(SL_SOURCE_DIR) + "/models/tiny");
    if (!chatTemplate.ok())
      sl::fuzz::fail("cannot load models/tiny's chat template", chatTemplate.status().message());
    auto *made = new sl::server::RequestContext;
    made->modelId = "tiny.slpkg";
    made->capacity = 256;
    made->vocab = 512;
    made->tokenizer = &tokenizer.value();
    made->chatTemplate = &chatTemplate.value();
    return made;
  }();
  return *shared;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  bool chat = data[0] % 2 == 0;
  std::string_view text(reinterpret_cast<const char *>(data) + 1, size - 1);
  const sl::server::RequestContext &shared = context();
  nlohmann::ordered_json body;
  sl::server::ApiError error;
  sl::server::Completion completion;
  if (!sl::server::parseRequestBody(text, shared.limits, &body, &error) ||
      !sl::server::parseCompletion(body, shared, chat, &completion, &error)) {
    SL_FUZZ_CHECK(error.status >= 400 && error.status < 500, std::to_string(error.status));
    SL_FUZZ_CHECK(!error.message.empty(), "an error without a message");
    return 0;
  }
  const auto &prompt = completion.generate.prompt;
  SL_FUZZ_CHECK(!prompt.empty() && int64_t(prompt.size()) < shared.capacity, "prompt size");
  for (int32_t id : prompt)
    SL_FUZZ_CHECK(id >= 0 && id < shared.vocab, std::to_string(id));
  SL_FUZZ_CHECK(completion.generate.maxTokens >= 1 &&
                    completion.generate.maxTokens <= shared.capacity,
                std::to_string(completion.generate.maxTokens));
  SL_FUZZ_CHECK(completion.generate.boundary >= 0 &&
                    completion.generate.boundary < int64_t(prompt.size()),
                std::to_string(completion.generate.boundary));
  return 0;
}
