// `slrun serve`'s /metrics. See ServerMetrics.h.
#include "runtime/server/ServerMetrics.h"

#include <cstdio>

namespace sl::server::detail {

void Metrics::request(const std::string &endpoint, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{endpoint, status}];
}
void Metrics::generation(const GenerateResult &result) {
  std::lock_guard<std::mutex> lock(mutex_);
  promptTokens_ += result.promptTokens;
  cachedTokens_ += result.cachedTokens;
  generatedTokens_ += result.completionTokens;
  prefillTokens_ += result.prefilledTokens;
  prefillSeconds_ += result.prefillSeconds;
  decodeTokens_ += result.completionTokens;
  decodeSeconds_ += result.decodeSeconds;
  if (result.prefilledTokens > 0 && result.prefillSeconds > 0)
    lastPrefillRate_ = result.prefilledTokens / result.prefillSeconds;
  if (result.completionTokens > 0 && result.decodeSeconds > 0)
    lastDecodeRate_ = result.completionTokens / result.decodeSeconds;
  if (result.finishReason == "cancelled")
    ++cancelled_;
}
std::string Metrics::render(size_t queueDepth, bool running, size_t sessions, bool loaded) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  auto metric = [&](const char *name, const char *type, const char *help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto number = [](double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return std::string(buffer);
  };
  metric("sl_requests_total", "counter", "HTTP requests by endpoint and status.");
  for (const auto &[key, count] : requests_)
    out += "sl_requests_total{endpoint=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
  metric("sl_prompt_tokens_total", "counter", "Prompt tokens of completed generations.");
  out += "sl_prompt_tokens_total " + std::to_string(promptTokens_) + "\n";
  metric("sl_cached_prompt_tokens_total", "counter", "Prompt tokens reused from sessions.");
  out += "sl_cached_prompt_tokens_total " + std::to_string(cachedTokens_) + "\n";
  metric("sl_generated_tokens_total", "counter", "Generated tokens.");
  out += "sl_generated_tokens_total " + std::to_string(generatedTokens_) + "\n";
  metric("sl_cancelled_generations_total", "counter", "Generations stopped by a disconnect.");
  out += "sl_cancelled_generations_total " + std::to_string(cancelled_) + "\n";
  metric("sl_prefill_tokens_total", "counter", "Tokens prefilled.");
  out += "sl_prefill_tokens_total " + std::to_string(prefillTokens_) + "\n";
  metric("sl_prefill_seconds_total", "counter", "Seconds spent in prefill.");
  out += "sl_prefill_seconds_total " + number(prefillSeconds_) + "\n";
  metric("sl_decode_tokens_total", "counter", "Tokens sampled in the decode phase.");
  out += "sl_decode_tokens_total " + std::to_string(decodeTokens_) + "\n";
  metric("sl_decode_seconds_total", "counter", "Seconds spent in the decode phase.");
  out += "sl_decode_seconds_total " + number(decodeSeconds_) + "\n";
  metric("sl_prefill_tokens_per_second", "gauge", "Prefill throughput of the last request.");
  out += "sl_prefill_tokens_per_second " + number(lastPrefillRate_) + "\n";
  metric("sl_decode_tokens_per_second", "gauge", "Decode throughput of the last request.");
  out += "sl_decode_tokens_per_second " + number(lastDecodeRate_) + "\n";
  metric("sl_queue_depth", "gauge", "Requests waiting for the executor.");
  out += "sl_queue_depth " + std::to_string(queueDepth) + "\n";
  metric("sl_running_requests", "gauge", "Requests being executed (0 or 1).");
  out += "sl_running_requests " + std::to_string(running ? 1 : 0) + "\n";
  metric("sl_sessions", "gauge", "Sessions held by the server.");
  out += "sl_sessions " + std::to_string(sessions) + "\n";
  metric("sl_model_loaded", "gauge", "1 once the model is loaded.");
  out += "sl_model_loaded " + std::to_string(loaded ? 1 : 0) + "\n";
  return out;
}

std::string endpointLabel(const std::string &path) {
  static const char *fixedPaths[] = {"/v1/chat/completions", "/v1/completions", "/v1/models",
                                     "/v1/sessions", "/health", "/metrics"};
  for (const char *fixed : fixedPaths)
    if (path == fixed)
      return fixed;
  if (path.rfind("/v1/sessions/", 0) == 0) {
    std::string rest = path.substr(13);
    size_t slash = rest.find('/');
    return slash == std::string::npos ? "/v1/sessions/{id}" : "/v1/sessions/{id}" + rest.substr(slash);
  }
  if (path.rfind("/v1/snapshots/", 0) == 0)
    return "/v1/snapshots/{name}/load";
  if (path.rfind("/v1/models/", 0) == 0)
    return "/v1/models/{id}";
  return "other";
}

}  // namespace sl::server::detail
