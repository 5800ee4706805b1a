// The real chat template of models/tiny rendered with arbitrary JSON: either
// {"messages": ..., "tools": ..., "add_generation_prompt": ..., "extra": {...}} or any value used
// as the messages. The JSON goes through the limited parser first, as the server does.
#include "FuzzSupport.h"

#include "runtime/io/Json.h"
#include "runtime/text/ChatTemplate.h"

#include <string>
#include <string_view>

namespace {

const sl::text::ChatTemplate &chatTemplate() {
  static const sl::text::ChatTemplate *tmpl = [] {
    auto loaded = sl::text::ChatTemplate::load(std::string(SL_SOURCE_DIR) + "/models/tiny");
    if (!loaded.ok())
      sl::fuzz::fail("cannot load models/tiny's chat template", loaded.status().message());
    return new sl::text::ChatTemplate(std::move(loaded.value()));
  }();
  return *tmpl;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto parsed = sl::io::parseOrderedJson(text, {}, "fuzz request");
  if (!parsed.ok())
    return 0;
  const nlohmann::ordered_json &request = parsed.value();
  nlohmann::ordered_json messages = request, tools = nullptr, extra = nullptr;
  bool addGenerationPrompt = true;
  if (request.is_object() && request.contains("messages")) {
    messages = request["messages"];
    if (request.contains("tools"))
      tools = request["tools"];
    if (request.contains("extra"))
      extra = request["extra"];
    if (request.contains("add_generation_prompt") && request["add_generation_prompt"].is_boolean())
      addGenerationPrompt = request["add_generation_prompt"].get<bool>();
  }
  auto rendered = chatTemplate().renderOrdered(messages, tools, addGenerationPrompt, extra,
                                               "<s>", "<|im_end|>");
  if (!rendered.ok())
    SL_FUZZ_CHECK(!rendered.status().message().empty(), "a render error without a message");
  return 0;
}
