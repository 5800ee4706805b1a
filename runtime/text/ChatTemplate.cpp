// Chat templates: loading from a model directory and rendering through the Jinja subset.
#include "runtime/text/ChatTemplate.h"

#include "runtime/io/Json.h"
#include "runtime/text/Jinja.h"

#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace sl::text {

struct ChatTemplate::Impl {
  jinja::Template tmpl;
};

ChatTemplate::ChatTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatTemplate::ChatTemplate(ChatTemplate &&) noexcept = default;
ChatTemplate &ChatTemplate::operator=(ChatTemplate &&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

StatusOr<ChatTemplate> ChatTemplate::parse(const std::string &source, const std::string &name) {
  auto t = jinja::Template::parse(source, name);
  if (!t.ok()) return t.status();
  return ChatTemplate(std::make_unique<Impl>(Impl{std::move(t.value())}));
}

namespace {

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

StatusOr<std::string> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::error(path + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::error(path + ": read error");
  return ss.str();
}

}  // namespace

StatusOr<ChatTemplate> ChatTemplate::load(const std::string &dir) {
  std::string base = dir.empty() ? "." : dir;
  if (base.back() != '/') base += '/';
  std::string jinjaPath = base + "chat_template.jinja";
  if (fileExists(jinjaPath)) {
    auto src = readFile(jinjaPath);
    if (!src.ok()) return src.status();
    return parse(*src, jinjaPath);
  }
  std::string configPath = base + "tokenizer_config.json";
  if (!fileExists(configPath))
    return Status::error(dir + ": no chat template (neither chat_template.jinja nor tokenizer_config.json)");
  auto text = readFile(configPath);
  if (!text.ok()) return text.status();
  // Under the JSON limits (bounded nesting); a repeated key keeps its last value, as in Python.
  io::JsonLimits limits;
  limits.rejectDuplicateKeys = false;
  auto parsed = io::parseOrderedJson(*text, limits, configPath + ": invalid JSON");
  if (!parsed.ok()) return parsed.status();
  const nlohmann::ordered_json &config = parsed.value();
  if (!config.is_object())
    return Status::error(configPath + ": not a JSON object");
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null())
    return Status::error(configPath + ": no \"chat_template\" (and no chat_template.jinja in " + dir + ")");
  if (it->is_string()) return parse(it->get<std::string>(), configPath + ":chat_template");
  if (it->is_array()) {
    for (auto &entry : *it) {
      if (!entry.is_object()) continue;
      auto name = entry.find("name"), tmpl = entry.find("template");
      if (name != entry.end() && name->is_string() && name->get<std::string>() == "default" &&
          tmpl != entry.end() && tmpl->is_string())
        return parse(tmpl->get<std::string>(), configPath + ":chat_template[default]");
    }
    return Status::error(configPath + ": \"chat_template\" list has no template named \"default\"");
  }
  return Status::error(configPath + ": \"chat_template\" must be a string or a list of {name, template}");
}

StatusOr<std::string> ChatTemplate::renderOrdered(const nlohmann::ordered_json &messages,
                                                  const nlohmann::ordered_json &tools,
                                                  bool addGenerationPrompt,
                                                  const nlohmann::ordered_json &extra,
                                                  const std::string &bosToken,
                                                  const std::string &eosToken) const {
  if (!extra.is_null() && !extra.is_object())
    return Status::error("chat template: extra variables must be a JSON object");
  nlohmann::ordered_json vars = nlohmann::ordered_json::object();
  vars["messages"] = messages;
  vars["tools"] = tools;
  vars["documents"] = nullptr;
  vars["add_generation_prompt"] = addGenerationPrompt;
  vars["bos_token"] = bosToken;
  vars["eos_token"] = eosToken;
  if (extra.is_object())
    for (auto it = extra.begin(); it != extra.end(); ++it) vars[it.key()] = it.value();
  return impl_->tmpl.render(vars);
}

StatusOr<std::string> ChatTemplate::render(const nlohmann::json &messages, const nlohmann::json &tools,
                                           bool addGenerationPrompt, const nlohmann::json &extra,
                                           const std::string &bosToken,
                                           const std::string &eosToken) const {
  // Invalid UTF-8 in a string becomes U+FFFD (dump() would throw).
  auto conv = [](const nlohmann::json &j) {
    return nlohmann::ordered_json::parse(
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  return renderOrdered(conv(messages), conv(tools), addGenerationPrompt, conv(extra), bosToken, eosToken);
}

}  // namespace sl::text
