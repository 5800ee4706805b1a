// Validation of OpenAI-style completion requests: the body is parsed once, under limits, and
// every field is checked for its type and range before use, so a malformed field is a 400 that
// names it. Needs no running model (the fuzzers and unit tests call it with a tokenizer and a
// chat template alone).
#pragma once

#include "runtime/server/Conversation.h"
#include "runtime/text/ChatTemplate.h"
#include "runtime/text/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace sl::server {

// An OpenAI-style error.
struct ApiError {
  ApiError() = default;
  ApiError(int status, std::string message, std::string type = "invalid_request_error",
           std::string param = "", std::string code = "")
      : status(status), message(std::move(message)), type(std::move(type)),
        param(std::move(param)), code(std::move(code)) {}
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" = null
  std::string code;   // "" = null
};

nlohmann::json errorBody(const ApiError &error);
ApiError badRequest(const std::string &message, const std::string &param = "",
                    const std::string &code = "");

// The limits every request body is parsed under (docs/security.md).
struct RequestLimits {
  size_t maxDepth = 64;             // nested arrays/objects
  size_t maxKeysPerObject = 4096;
  size_t maxMessages = 4096;
  size_t maxStopStrings = 16;
};

// Parses a JSON request body (an object) under `limits`; errors are 400s.
bool parseRequestBody(std::string_view text, const RequestLimits &limits,
                      nlohmann::ordered_json *body, ApiError *error);

// What a request is checked against.
struct RequestContext {
  std::string modelId;
  int64_t capacity = 0;  // tokens a session holds
  int64_t vocab = 0;
  const text::Tokenizer *tokenizer = nullptr;
  const text::ChatTemplate *chatTemplate = nullptr;  // null: chat requests are refused
  std::string chatTemplateError;                      // why there is none
  RequestLimits limits;
};

// A validated completion request.
struct Completion {
  bool chat = true, stream = false, includeUsage = false;
  std::string sessionId;
  GenerateRequest generate;
  bool ignoreEos = false;
  bool seeded = false;  // the request gave a seed (else the caller draws one)
};

// Session ids: 1-128 of [A-Za-z0-9._-].
bool validId(const std::string &id);

// Validates `body` (a parsed request) as a chat (`chat`) or text completion; renders and
// tokenizes the prompt. False with a 4xx in `error` when the request is not acceptable.
bool parseCompletion(const nlohmann::ordered_json &body, const RequestContext &context, bool chat,
                     Completion *out, ApiError *error);

}  // namespace sl::server
