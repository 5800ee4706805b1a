// Chat templates: the Jinja subset HF chat templates use (for/if/elif/else, set, macros,
// filters such as trim/length/tojson, loop variables, whitespace control, raise_exception,
// add_generation_prompt, tools), rendered like transformers' apply_chat_template.
#pragma once

#include "runtime/support/Status.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace sl::text {

class ChatTemplate {
public:
  // Parses `source`; errors name `name` and the line/column.
  static StatusOr<ChatTemplate> parse(const std::string &source, const std::string &name);
  // The template of a model directory: chat_template.jinja, else tokenizer_config.json's
  // "chat_template" (a string, or a list of {name, template} from which "default" is used).
  static StatusOr<ChatTemplate> load(const std::string &dir);

  ChatTemplate(ChatTemplate &&) noexcept;
  ChatTemplate &operator=(ChatTemplate &&) noexcept;
  ~ChatTemplate();

  // Renders with the variables transformers passes: messages, tools (null when absent),
  // add_generation_prompt, bos_token, eos_token, plus every key of `extra` (e.g.
  // enable_thinking). raise_exception(...) in the template becomes an error with its message.
  StatusOr<std::string> render(const nlohmann::json &messages, const nlohmann::json &tools,
                               bool addGenerationPrompt, const nlohmann::json &extra,
                               const std::string &bosToken, const std::string &eosToken) const;
  // The same with insertion-ordered JSON: objects (tools, tool-call arguments) keep the key
  // order of the request, as Python dicts do, so `tojson` renders them exactly as transformers.
  StatusOr<std::string> renderOrdered(const nlohmann::ordered_json &messages,
                                      const nlohmann::ordered_json &tools,
                                      bool addGenerationPrompt, const nlohmann::ordered_json &extra,
                                      const std::string &bosToken,
                                      const std::string &eosToken) const;

private:
  struct Impl;
  explicit ChatTemplate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sl::text
