#include "runtime/server/Requests.h"

#include "runtime/io/Json.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace sl::server {

using Json = nlohmann::ordered_json;

nlohmann::json errorBody(const ApiError &error) {
  return {{"error",
           {{"message", error.message},
            {"type", error.type},
            {"param", error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param)},
            {"code", error.code.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.code)}}}};
}

ApiError badRequest(const std::string &message, const std::string &param, const std::string &code) {
  return ApiError{400, message, "invalid_request_error", param, code};
}

bool parseRequestBody(std::string_view text, const RequestLimits &limits, Json *body,
                      ApiError *error) {
  io::JsonLimits jsonLimits;
  jsonLimits.maxDepth = limits.maxDepth;
  jsonLimits.maxKeysPerObject = limits.maxKeysPerObject;
  auto parsed = io::parseOrderedJson(text, jsonLimits, "the request body is not acceptable JSON");
  if (!parsed) {
    *error = badRequest(parsed.status().message());
    return false;
  }
  if (!parsed->is_object()) {
    *error = badRequest("the request body must be a JSON object");
    return false;
  }
  *body = std::move(*parsed);
  return true;
}

bool validId(const std::string &id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

namespace {

// A member of `object`, or null when it is absent or JSON null.
const Json *member(const Json &object, const char *name) {
  if (!object.is_object())
    return nullptr;
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

const char *typeName(const Json &value) {
  switch (value.type()) {
  case Json::value_t::null: return "null";
  case Json::value_t::boolean: return "a boolean";
  case Json::value_t::number_integer:
  case Json::value_t::number_unsigned: return "an integer";
  case Json::value_t::number_float: return "a number";
  case Json::value_t::string: return "a string";
  case Json::value_t::array: return "an array";
  case Json::value_t::object: return "an object";
  default: return "a value of another kind";
  }
}

// Checks one field and reports it; the helpers below return false with `error` set.
struct Fields {
  const Json &body;
  ApiError *error;

  bool fail(const std::string &message, const std::string &param) {
    *error = badRequest(message, param);
    return false;
  }
  bool wrongType(const std::string &param, const char *expected, const Json &got) {
    return fail("'" + param + "' must be " + expected + ", got " + typeName(got), param);
  }
  bool boolean(const char *name, bool *out) {
    const Json *value = member(body, name);
    if (!value)
      return true;
    if (!value->is_boolean())
      return wrongType(name, "a boolean", *value);
    *out = value->get<bool>();
    return true;
  }
  // An integer in [low, high]; `present` says whether it was given.
  bool integer(const char *name, int64_t low, int64_t high, int64_t *out, bool *present = nullptr) {
    const Json *value = member(body, name);
    if (present)
      *present = value != nullptr;
    if (!value)
      return true;
    if (!value->is_number_integer())
      return wrongType(name, "an integer", *value);
    if (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t(INT64_MAX))
      return fail("'" + std::string(name) + "' must be in [" + std::to_string(low) + ", " +
                      std::to_string(high) + "]",
                  name);
    int64_t number = value->get<int64_t>();
    if (number < low || number > high)
      return fail("'" + std::string(name) + "' must be in [" + std::to_string(low) + ", " +
                      std::to_string(high) + "], got " + std::to_string(number),
                  name);
    *out = number;
    return true;
  }
  bool number(const char *name, double low, double high, bool openLow, double *out) {
    const Json *value = member(body, name);
    if (!value)
      return true;
    if (!value->is_number())
      return wrongType(name, "a number", *value);
    double number = value->get<double>();
    bool aboveLow = openLow ? number > low : number >= low;
    if (!std::isfinite(number) || !aboveLow || number > high) {
      char range[96];
      std::snprintf(range, sizeof range, "%s%g, %g]", openLow ? "(" : "[", low, high);
      return fail("'" + std::string(name) + "' must be a number in " + range, name);
    }
    *out = number;
    return true;
  }
};

bool checkStops(const Json &stop, size_t maxStops, std::vector<std::string> *out, ApiError *error) {
  auto fail = [&] {
    *error = badRequest("'stop' must be a non-empty string or a list of at most " +
                            std::to_string(maxStops) + " of them",
                        "stop");
    return false;
  };
  if (stop.is_string()) {
    if (stop.get_ref<const std::string &>().empty())
      return fail();
    out->push_back(stop.get<std::string>());
    return true;
  }
  if (!stop.is_array() || stop.size() > maxStops)
    return fail();
  for (const Json &item : stop) {
    if (!item.is_string() || item.get_ref<const std::string &>().empty())
      return fail();
    out->push_back(item.get<std::string>());
  }
  return true;
}

// One chat message, normalised for the template: role checked ('developer' becomes 'system'),
// content made a string (text parts joined); other keys kept in the request's order.
bool normalizeMessage(const Json &message, size_t index, Json *out, ApiError *error) {
  std::string param = "messages[" + std::to_string(index) + "]";
  const Json *role = member(message, "role");
  if (!message.is_object() || !role || !role->is_string()) {
    *error = badRequest(param + " must be an object with a string 'role'", param);
    return false;
  }
  std::string name = role->get<std::string>();
  if (name != "system" && name != "user" && name != "assistant" && name != "tool" &&
      name != "developer") {
    *error = badRequest(param + ".role must be one of system, developer, user, assistant, tool",
                        param + ".role");
    return false;
  }
  *out = message;
  (*out)["role"] = name == "developer" ? "system" : name;
  const Json *content = member(message, "content");
  if (!content) {
    if (name != "assistant") {
      *error = badRequest(param + ".content is missing", param + ".content");
      return false;
    }
    (*out)["content"] = "";
  } else if (content->is_array()) {
    std::string text;
    for (size_t i = 0; i < content->size(); ++i) {
      const Json &part = (*content)[i];
      std::string partParam = param + ".content[" + std::to_string(i) + "]";
      const Json *type = member(part, "type");
      const Json *partText = member(part, "text");
      if (!part.is_object() || !type || !type->is_string() ||
          type->get_ref<const std::string &>() != "text" || !partText || !partText->is_string()) {
        *error = badRequest(partParam + " must be {\"type\": \"text\", \"text\": string} (only "
                                        "text parts are supported)",
                            partParam);
        return false;
      }
      text += partText->get_ref<const std::string &>();
    }
    (*out)["content"] = text;
  } else if (!content->is_string()) {
    *error = badRequest(param + ".content must be a string or an array of text parts",
                        param + ".content");
    return false;
  }
  return true;
}

}  // namespace

bool parseCompletion(const Json &body, const RequestContext &context, bool chat, Completion *out,
                     ApiError *error) {
  const int64_t capacity = context.capacity;
  out->chat = chat;
  if (!body.is_object()) {
    *error = badRequest("the request body must be a JSON object");
    return false;
  }
  Fields fields{body, error};
  if (const Json *model = member(body, "model")) {
    if (!model->is_string())
      return fields.wrongType("model", "a string", *model);
    if (model->get_ref<const std::string &>() != context.modelId) {
      *error = ApiError{404,
                        "the model '" + model->get<std::string>() +
                            "' does not exist (this server has '" + context.modelId + "')",
                        "invalid_request_error", "model", "model_not_found"};
      return false;
    }
  }
  if (!fields.boolean("stream", &out->stream))
    return false;
  if (const Json *options = member(body, "stream_options")) {
    const Json *include = member(*options, "include_usage");
    if (!options->is_object() || (include && !include->is_boolean())) {
      *error = badRequest("'stream_options' must be an object {\"include_usage\": bool}",
                          "stream_options");
      return false;
    }
    out->includeUsage = include && include->get<bool>();
  }
  const char *maxTokensName =
      member(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  out->generate.maxTokens = -1;
  if (!fields.integer(maxTokensName, 1, capacity, &out->generate.maxTokens))
    return false;
  runtime::SamplingParams &sampling = out->generate.sampling;
  sampling.temperature = 1.0;  // the OpenAI default
  if (!fields.number("temperature", 0, 2, false, &sampling.temperature) ||
      !fields.number("top_p", 0, 1, true, &sampling.top_p))
    return false;
  int64_t topK = 0;
  if (!fields.integer("top_k", -1, INT32_MAX, &topK))
    return false;
  sampling.top_k = int32_t(std::max<int64_t>(0, topK));
  if (const Json *seed = member(body, "seed")) {
    if (!seed->is_number_integer())
      return fields.wrongType("seed", "an integer", *seed);
    sampling.seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                               : uint64_t(seed->get<int64_t>());
    out->seeded = true;
  }
  int64_t n = 1;
  if (!fields.integer("n", 1, 1, &n))
    return false;
  if (!fields.boolean("ignore_eos", &out->ignoreEos))
    return false;
  if (const Json *stop = member(body, "stop"))
    if (!checkStops(*stop, context.limits.maxStopStrings, &out->generate.stop, error))
      return false;
  // The session: top level, or inside "metadata".
  const Json *sessionId = member(body, "session_id");
  if (!sessionId)
    if (const Json *metadata = member(body, "metadata"))
      sessionId = member(*metadata, "session_id");
  if (sessionId) {
    if (!sessionId->is_string() || !validId(sessionId->get<std::string>())) {
      *error = badRequest("'session_id' must be 1-128 of A-Z a-z 0-9 . _ -", "session_id");
      return false;
    }
    out->sessionId = sessionId->get<std::string>();
  }

  std::vector<int32_t> &prompt = out->generate.prompt;
  const char *promptParam = chat ? "messages" : "prompt";
  if (chat) {
    const Json *messages = member(body, "messages");
    if (!messages || !messages->is_array() || messages->empty()) {
      *error = badRequest("'messages' must be a non-empty array", "messages");
      return false;
    }
    if (messages->size() > context.limits.maxMessages) {
      *error = badRequest("'messages' has more than " +
                              std::to_string(context.limits.maxMessages) + " messages",
                          "messages");
      return false;
    }
    if (!context.chatTemplate) {
      *error = badRequest("this model has no chat template (" + context.chatTemplateError +
                          "); use /v1/completions");
      return false;
    }
    Json normalized = Json::array();
    for (size_t i = 0; i < messages->size(); ++i) {
      Json message;
      if (!normalizeMessage((*messages)[i], i, &message, error))
        return false;
      normalized.push_back(std::move(message));
    }
    Json tools = nullptr;
    if (const Json *t = member(body, "tools")) {
      if (!t->is_array())
        return fields.wrongType("tools", "an array", *t);
      tools = *t;
    }
    Json extra = Json::object();
    if (const Json *kwargs = member(body, "chat_template_kwargs")) {
      if (!kwargs->is_object())
        return fields.wrongType("chat_template_kwargs", "an object", *kwargs);
      extra = *kwargs;
    }
    const text::ChatTemplate &chatTemplate = *context.chatTemplate;
    auto text = chatTemplate.renderOrdered(normalized, tools, /*addGenerationPrompt=*/true, extra,
                                           context.tokenizer->bosText(),
                                           context.tokenizer->eosText());
    if (!text) {
      *error = badRequest("chat template: " + text.status().message(), "messages");
      return false;
    }
    auto ids = context.tokenizer->encode(*text, /*addSpecial=*/false);
    if (!ids) {
      *error = badRequest("tokenizer: " + ids.status().message(), "messages");
      return false;
    }
    prompt = std::move(*ids);
    // A session also keeps a checkpoint at the end of the last message (before the generation
    // prompt), which the next turn's rendering shares even when the template renders earlier
    // assistant turns differently from the generation prompt (e.g. thinking).
    if (!out->sessionId.empty()) {
      auto head = chatTemplate.renderOrdered(normalized, tools, /*addGenerationPrompt=*/false,
                                             extra, context.tokenizer->bosText(),
                                             context.tokenizer->eosText());
      if (head) {
        auto headIds = context.tokenizer->encode(*head, /*addSpecial=*/false);
        if (headIds && headIds->size() < prompt.size() &&
            std::equal(headIds->begin(), headIds->end(), prompt.begin()))
          out->generate.boundary = int64_t(headIds->size());
      }
    }
  } else {
    const Json *p = member(body, "prompt");
    const Json *textPrompt = nullptr;
    if (p && p->is_string())
      textPrompt = p;
    else if (p && p->is_array() && p->size() == 1 && (*p)[0].is_string())
      textPrompt = &(*p)[0];
    if (textPrompt) {
      const std::string &text = textPrompt->get_ref<const std::string &>();
      if (text.empty()) {
        *error = badRequest("'prompt' is empty", "prompt");
        return false;
      }
      auto ids = context.tokenizer->encode(text, /*addSpecial=*/true);
      if (!ids) {
        *error = badRequest("tokenizer: " + ids.status().message(), "prompt");
        return false;
      }
      prompt = std::move(*ids);
    } else if (p && p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
      if (int64_t(p->size()) >= capacity) {
        *error = badRequest("the prompt has " + std::to_string(p->size()) +
                                " tokens; the context holds " + std::to_string(capacity) +
                                " (at least one must be left to generate)",
                            "prompt", "context_length_exceeded");
        return false;
      }
      for (const Json &id : *p) {
        if (!id.is_number_integer() || (id.is_number_unsigned() && id.get<uint64_t>() > INT32_MAX) ||
            id.get<int64_t>() < 0 || id.get<int64_t>() >= context.vocab) {
          *error = badRequest("'prompt' token ids must be integers in [0, " +
                                  std::to_string(context.vocab) + ")",
                              "prompt");
          return false;
        }
        prompt.push_back(int32_t(id.get<int64_t>()));
      }
    } else {
      *error = badRequest("'prompt' must be a string (or a list of token ids)", "prompt");
      return false;
    }
  }
  if (prompt.empty()) {
    *error = badRequest("the prompt has no tokens", promptParam);
    return false;
  }
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= context.vocab) {
      *error = badRequest("the prompt: token id " + std::to_string(prompt[i]) + " at position " +
                              std::to_string(i) + " is outside the vocabulary [0, " +
                              std::to_string(context.vocab) + ")",
                          promptParam);
      return false;
    }
  if (int64_t(prompt.size()) >= capacity) {
    *error = badRequest("the prompt has " + std::to_string(prompt.size()) +
                            " tokens; the context holds " + std::to_string(capacity) +
                            " (at least one must be left to generate)",
                        promptParam, "context_length_exceeded");
    return false;
  }
  if (out->generate.maxTokens < 0)
    out->generate.maxTokens = capacity - int64_t(prompt.size());
  return true;
}

}  // namespace sl::server
