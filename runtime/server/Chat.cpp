// `slrun chat`: an interactive terminal chat over one conversation (only each new turn is
// prefilled), streaming tokens as they come. Ctrl-C stops the current answer.
#include "runtime/support/CommandLine.h"
#include "runtime/app/Backends.h"
#include "runtime/server/Commands.h"
#include "runtime/server/Conversation.h"
#include "runtime/server/Snapshot.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>
#include <unistd.h>

namespace sl::server {

namespace {

using nlohmann::json;

const char *kChatUsage =
    "usage: slrun chat --artifact A --weights DIR [--max-context 4096] [--chunk N]\n"
    "                  [--max-tokens 512] [--temperature 0.7] [--top-p 1] [--seed S]\n"
    "                  [--system TEXT] [--snapshot-dir ./snapshots] [--no-think]\n"
    "                  [--device cpu|cuda] [--devices 0,1,...]\n"
    "Interactive chat. Commands: /reset, /save NAME, /load NAME, /stats, /quit.\n"
    "Ctrl-C stops the current answer; Ctrl-D or /quit leaves.\n";

std::atomic<bool> interrupted{false};

extern "C" void onInterrupt(int) { interrupted = true; }

enum { kLine, kEnd, kInterrupted };

// One line of stdin (read(2), so that Ctrl-C at the prompt interrupts the read instead of
// ending the input as std::getline would).
int readLine(std::string *line) {
  static std::string buffer;
  while (true) {
    size_t newline = buffer.find('\n');
    if (newline != std::string::npos) {
      *line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return kLine;
    }
    char chunk[4096];
    ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n > 0) {
      buffer.append(chunk, size_t(n));
    } else if (n == 0) {
      if (buffer.empty())
        return kEnd;
      line->swap(buffer);
      buffer.clear();
      return kLine;
    } else if (errno == EINTR) {
      if (interrupted)
        return kInterrupted;
    } else {
      return kEnd;
    }
  }
}

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

}  // namespace

int chatCommand(int argc, char **argv) {
  auto line = cli::CommandLine::parse(
      argc, argv, {"help", "no-think"},
      {"artifact", "weights", "max-context", "chunk", "max-tokens", "temperature", "top-p",
       "top-k", "seed", "system", "snapshot-dir", "device",
       "devices"});
  if (!line) {
    std::cerr << "slrun chat: " << line.status().message() << "\n" << kChatUsage;
    return 2;
  }
  if (line->has("help")) {
    std::cout << kChatUsage;
    return 0;
  }
  auto artifact = line->required("artifact");
  auto weights = line->required("weights");
  auto capacity = line->integer("max-context", 4096, 2);
  auto chunk = line->integer("chunk", 0, 1);
  auto maxTokens = line->integer("max-tokens", 512, 1);
  auto temperature = line->number("temperature", 0.7);
  auto topP = line->number("top-p", 1.0);
  auto topK = line->integer("top-k", 0, 0, INT32_MAX);
  auto seed = line->integer("seed", int64_t(std::random_device{}()), 0);
  for (const Status &status : {artifact.status(), weights.status(), capacity.status(),
                               chunk.status(), maxTokens.status(), temperature.status(),
                               topP.status(), topK.status(), seed.status()})
    if (!status) {
      std::cerr << "slrun chat: " << status.message() << "\n" << kChatUsage;
      return 2;
    }
  auto deviceOr = runtime::deviceSpec(*line);
  if (auto backend = deviceOr ? runtime::selectBackend(*deviceOr)
                              : StatusOr<const runtime::Backend *>(deviceOr.status());
      !backend) {
    std::cerr << "slrun chat: " << backend.status().message() << "\n" << kChatUsage;
    return 2;
  }
  runtime::SamplingParams sampling{*temperature, int32_t(*topK), *topP, uint64_t(*seed)};
  if (Status status = runtime::validateSamplingParams(sampling); !status) {
    std::cerr << "slrun chat: " << status.message() << "\n";
    return 2;
  }
  auto loaded = loadModel(ModelConfig{*artifact, *weights, *capacity, *chunk, *deviceOr});
  if (!loaded) {
    std::cerr << "slrun: " << loaded.status().message() << "\n";
    return 1;
  }
  LoadedModel &model = **loaded;
  if (!model.chatTemplate) {
    std::cerr << "slrun chat: the model has no chat template: " << model.chatTemplateError
              << "\n";
    return 1;
  }
  std::string snapshotDir = line->get("snapshot-dir", "snapshots");
  json extra = json::object();
  if (line->has("no-think"))
    extra["enable_thinking"] = false;

  // Ctrl-C: no SA_RESTART, so a read in progress returns and the prompt comes back.
  struct sigaction action {};
  action.sa_handler = onInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);

  auto conversation = std::make_unique<Conversation>(model);
  json messages = json::array();
  auto resetMessages = [&] {
    messages = json::array();
    if (line->has("system"))
      messages.push_back({{"role", "system"}, {"content", line->get("system")}});
  };
  resetMessages();
  int64_t turns = 0, generatedTotal = 0;
  double decodeSecondsTotal = 0, prefillSecondsTotal = 0;
  int64_t prefilledTotal = 0;
  GenerateResult last;
  bool tty = isatty(STDIN_FILENO);
  std::cerr << "slrun chat: model '" << model.id << "'; /reset /save NAME /load NAME /stats /quit\n";

  while (true) {
    if (tty)
      std::cout << "\n> " << std::flush;
    std::string input;
    interrupted = false;
    int got = readLine(&input);
    if (got == kInterrupted) {
      std::cout << "\n(Ctrl-C: use /quit or Ctrl-D to leave)" << std::endl;
      continue;
    }
    if (got == kEnd) {
      std::cout << std::endl;
      break;
    }
    if (input.empty())
      continue;
    if (input[0] == '/') {
      std::string command = input.substr(0, input.find(' '));
      std::string argument =
          input.find(' ') == std::string::npos ? "" : input.substr(input.find(' ') + 1);
      if (command == "/quit" || command == "/exit")
        break;
      if (command == "/reset") {
        conversation->reset();
        resetMessages();
        std::cout << "(conversation cleared)" << std::endl;
      } else if (command == "/save" || command == "/load") {
        if (!validSnapshotName(argument)) {
          std::cout << "(usage: " << command << " NAME with NAME of A-Z a-z 0-9 . _ -)"
                    << std::endl;
          continue;
        }
        if (command == "/save") {
          SnapshotStatus status = saveSnapshot(model, *conversation, snapshotDir, argument,
                                               {{"messages", messages}});
          std::cout << (status.ok() ? "(saved " + std::to_string(conversation->history().size()) +
                                          " tokens to " + snapshotPath(snapshotDir, argument) + ")"
                                    : "(error: " + status.message + ")")
                    << std::endl;
        } else {
          auto loadedConversation = std::make_unique<Conversation>(model);
          json meta;
          SnapshotStatus status =
              loadSnapshot(model, *loadedConversation, snapshotDir, argument, &meta);
          if (!status.ok()) {
            std::cout << "(error: " << status.message << ")" << std::endl;
            continue;
          }
          // The messages are re-rendered by later turns: each must be {role, content} strings.
          auto saved = meta.find("messages");
          bool wellFormed = saved != meta.end() && saved->is_array();
          for (size_t i = 0; wellFormed && i < saved->size(); ++i) {
            const json &message = (*saved)[i];
            wellFormed = message.is_object() && message.contains("role") &&
                         message["role"].is_string() && message.contains("content") &&
                         message["content"].is_string();
          }
          if (!wellFormed) {
            std::cout << "(error: snapshot '" << argument
                      << "' has no chat messages ({role, content} strings) in its meta; it was "
                         "not saved by slrun chat)"
                      << std::endl;
            continue;
          }
          conversation = std::move(loadedConversation);
          messages = *saved;
          std::cout << "(loaded " << conversation->history().size() << " tokens, "
                    << messages.size() << " messages)" << std::endl;
        }
      } else if (command == "/stats") {
        std::cout << "(session: " << conversation->session().length() << " / "
                  << conversation->session().capacity() << " tokens, " << turns << " turns";
        if (turns > 0)
          std::cout << "; last turn: prompt " << last.promptTokens << " tokens (" << last.cachedTokens
                    << " cached, " << last.prefilledTokens << " prefilled at "
                    << fixed(last.prefilledTokens / std::max(last.prefillSeconds, 1e-9), 1)
                    << " tok/s), " << last.completionTokens << " generated at "
                    << fixed(last.completionTokens / std::max(last.decodeSeconds, 1e-9), 1)
                    << " tok/s; overall: prefill "
                    << fixed(prefilledTotal / std::max(prefillSecondsTotal, 1e-9), 1)
                    << " tok/s, decode "
                    << fixed(generatedTotal / std::max(decodeSecondsTotal, 1e-9), 1) << " tok/s";
        std::cout << ")" << std::endl;
      } else {
        std::cout << "(unknown command " << command << "; /reset /save NAME /load NAME /stats /quit)"
                  << std::endl;
      }
      continue;
    }

    json next = messages;
    next.push_back({{"role", "user"}, {"content", input}});
    auto text = model.chatTemplate->render(next, nullptr, true, extra, model.tokenizer->bosText(),
                                           model.tokenizer->eosText());
    if (!text) {
      std::cout << "(chat template: " << text.status().message() << ")" << std::endl;
      continue;
    }
    auto prompt = model.tokenizer->encode(*text, /*addSpecial=*/false);
    if (!prompt) {
      std::cout << "(tokenizer: " << prompt.status().message() << ")" << std::endl;
      continue;
    }
    if (int64_t(prompt->size()) >= conversation->session().capacity()) {
      std::cout << "(the conversation has " << prompt->size() << " tokens, the context holds "
                << conversation->session().capacity() << ": /reset or raise --max-context)"
                << std::endl;
      continue;
    }
    GenerateRequest request;
    // A checkpoint at the end of the user's message too (see docs/serving.md).
    if (auto head = model.chatTemplate->render(next, nullptr, false, extra,
                                               model.tokenizer->bosText(),
                                               model.tokenizer->eosText())) {
      auto headIds = model.tokenizer->encode(*head, /*addSpecial=*/false);
      if (headIds && headIds->size() < prompt->size() &&
          std::equal(headIds->begin(), headIds->end(), prompt->begin()))
        request.boundary = int64_t(headIds->size());
    }
    request.prompt = std::move(*prompt);
    request.maxTokens = *maxTokens;
    request.sampling = sampling;
    ++sampling.seed;  // a different draw each turn, reproducible from --seed
    interrupted = false;
    auto result = generate(
        model, *conversation, request,
        [](const std::string &piece) {
          std::cout << piece << std::flush;
          return true;
        },
        &interrupted);
    std::cout << std::endl;
    if (!result) {
      std::cout << "(error: " << result.status().message() << ")" << std::endl;
      conversation->reset();
      continue;
    }
    last = *result;
    ++turns;
    generatedTotal += result->completionTokens;
    decodeSecondsTotal += result->decodeSeconds;
    prefilledTotal += result->prefilledTokens;
    prefillSecondsTotal += result->prefillSeconds;
    if (result->finishReason == "cancelled")
      std::cout << "(stopped)" << std::endl;
    else if (result->finishReason == "length")
      std::cout << "(length limit)" << std::endl;
    messages = std::move(next);
    messages.push_back({{"role", "assistant"}, {"content", result->text}});
  }
  return 0;
}

}  // namespace sl::server
