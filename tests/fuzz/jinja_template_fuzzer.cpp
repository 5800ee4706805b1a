// Arbitrary chat-template sources (sl::text::jinja) parsed and rendered with fixed variables
// shaped like a chat request: messages with text, list content, tool calls and reasoning, tools,
// add_generation_prompt, bos/eos tokens.
#include "FuzzSupport.h"

#include "runtime/text/ChatTemplate.h"
#include "runtime/text/Jinja.h"

#include <string>

namespace {

const nlohmann::ordered_json &variables() {
  static const nlohmann::ordered_json vars = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "What is 2+2? <b>\u00e9</b>"},
      {"role": "assistant", "content": "", "reasoning_content": "add",
       "tool_calls": [{"type": "function", "id": "call_1",
                       "function": {"name": "add", "arguments": {"a": 2, "b": 2.5, "c": [1, null]}}}]},
      {"role": "tool", "content": "4", "tool_call_id": "call_1"},
      {"role": "user", "content": [{"type": "text", "text": "thanks"}, {"type": "image"}]},
      {"role": "assistant", "content": "4"}
    ],
    "tools": [{"type": "function", "function": {"name": "add", "description": "Adds.",
               "parameters": {"type": "object", "properties": {"a": {"type": "number"}},
                              "required": ["a"]}}}],
    "add_generation_prompt": true,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "enable_thinking": false,
    "n": 3, "x": -1.5, "flag": true, "nothing": null, "text": "a,b;c d"
  })");
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string source(reinterpret_cast<const char *>(data), size);
  auto parsed = sl::text::jinja::Template::parse(source, "fuzz.jinja");
  if (!parsed.ok()) {
    SL_FUZZ_CHECK(!parsed.status().message().empty(), "a parse error without a message");
    return 0;
  }
  auto rendered = parsed.value().render(variables());
  if (!rendered.ok())
    SL_FUZZ_CHECK(!rendered.status().message().empty(), "a render error without a message");
  return 0;
}
