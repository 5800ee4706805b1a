// sl-chat-template --template FILE < cases.jsonl > rendered.jsonl
//
// Renders chat-template cases, one JSON object a line:
//   {"messages": [...], "tools": [...]|null, "add_generation_prompt": bool, "extra": {...},
//    "bos_token": "...", "eos_token": "..."}
// and writes one line per case: {"text": "..."} or {"error": "..."}. A template that does not
// parse is reported on stderr with exit status 1; bad input lines become {"error": ...} lines.
#include "runtime/text/ChatTemplate.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

int usage() {
  std::cerr << "usage: sl-chat-template (--template FILE | --model-dir DIR) < cases.jsonl > rendered.jsonl\n";
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  std::string templatePath, modelDir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--template" || a == "--model-dir") && i + 1 < argc) {
      (a == "--template" ? templatePath : modelDir) = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      return usage();
    }
  }
  if (templatePath.empty() == modelDir.empty()) return usage();

  sl::StatusOr<sl::text::ChatTemplate> tmpl = sl::Status::error("");
  if (!templatePath.empty()) {
    std::ifstream in(templatePath, std::ios::binary);
    if (!in) {
      std::cerr << "sl-chat-template: " << templatePath << ": cannot open file\n";
      return 1;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    tmpl = sl::text::ChatTemplate::parse(ss.str(), templatePath);
  } else {
    tmpl = sl::text::ChatTemplate::load(modelDir);
  }
  if (!tmpl.ok()) {
    std::cerr << "sl-chat-template: " << tmpl.status().message() << "\n";
    return 1;
  }

  using Json = nlohmann::ordered_json;
  std::string line;
  size_t lineNo = 0;
  while (std::getline(std::cin, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json out = Json::object();
    Json c = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (c.is_discarded() || !c.is_object()) {
      out["error"] = "line " + std::to_string(lineNo) + ": not a JSON object";
    } else {
      auto str = [&](const char *key) {
        auto it = c.find(key);
        return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      auto get = [&](const char *key, Json def) {
        auto it = c.find(key);
        return it != c.end() ? *it : def;
      };
      Json gen = get("add_generation_prompt", false);
      auto r = tmpl->renderOrdered(get("messages", Json::array()), get("tools", nullptr),
                                   gen.is_boolean() && gen.get<bool>(), get("extra", Json::object()),
                                   str("bos_token"), str("eos_token"));
      if (r.ok()) out["text"] = *r;
      else out["error"] = r.status().message();
    }
    std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  }
  return 0;
}
