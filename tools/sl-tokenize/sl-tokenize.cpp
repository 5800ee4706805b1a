// sl-tokenize: the runtime's HuggingFace tokenizer on JSON lines, for tests and scripts.
//
//   sl-tokenize --tokenizer DIR encode|decode|stream < input.jsonl > output.jsonl
//
//   encode: {"text": "...", "add_special": bool}     -> {"ids": [...]}
//   decode: {"ids": [...], "skip_special": bool}     -> {"text": "..."}
//   stream: as decode, through DecodeStream: the concatenation of push() for every id and
//           flush() (which must equal decode's text)
//
// A line that cannot be processed gives {"error": "..."} and the exit status 1 at the end.
#include "runtime/text/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

using nlohmann::json;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: sl-tokenize --tokenizer DIR encode|decode|stream < in.jsonl > out.jsonl\n"
               "  encode: {\"text\": ..., \"add_special\": bool} -> {\"ids\": [...]}\n"
               "  decode: {\"ids\": [...], \"skip_special\": bool} -> {\"text\": ...}\n"
               "  stream: like decode, through DecodeStream (push per id, then flush)\n");
  return 2;
}

bool readIds(const json &j, std::vector<int32_t> &ids, std::string &error) {
  auto it = j.find("ids");
  if (it == j.end() || !it->is_array()) {
    error = "expected \"ids\": [...]";
    return false;
  }
  for (const json &v : *it) {
    if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX) {
      error = "\"ids\" holds a non-integer: " + v.dump();
      return false;
    }
    ids.push_back(v.get<int32_t>());
  }
  return true;
}

bool readBool(const json &j, const char *key, bool dflt, bool &out, std::string &error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    out = dflt;
    return true;
  }
  if (!it->is_boolean()) {
    error = std::string("\"") + key + "\" must be a boolean";
    return false;
  }
  out = it->get<bool>();
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  std::string dir, mode;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tokenizer" && i + 1 < argc)
      dir = argv[++i];
    else if (a.rfind("--tokenizer=", 0) == 0)
      dir = a.substr(12);
    else if (a == "-h" || a == "--help")
      return usage(), 0;
    else if (mode.empty() && (a == "encode" || a == "decode" || a == "stream"))
      mode = a;
    else {
      std::fprintf(stderr, "sl-tokenize: unexpected argument '%s'\n", a.c_str());
      return usage();
    }
  }
  if (dir.empty() || mode.empty())
    return usage();
  auto tok = sl::text::Tokenizer::load(dir);
  if (!tok.ok()) {
    std::fprintf(stderr, "sl-tokenize: %s\n", tok.status().message().c_str());
    return 1;
  }
  const sl::text::Tokenizer &t = tok.value();

  int status = 0;
  std::string line;
  size_t lineNo = 0;
  while (std::getline(std::cin, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    json out;
    std::string error;
    json in = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (in.is_discarded() || !in.is_object()) {
      error = "invalid JSON object";
    } else if (mode == "encode") {
      auto text = in.find("text");
      bool addSpecial = false;
      if (text == in.end() || !text->is_string()) {
        error = "expected \"text\": string";
      } else if (readBool(in, "add_special", false, addSpecial, error)) {
        auto ids = t.encode(text->get<std::string>(), addSpecial);
        if (ids.ok())
          out["ids"] = ids.value();
        else
          error = ids.status().message();
      }
    } else {
      std::vector<int32_t> ids;
      bool skip = false;
      if (readIds(in, ids, error) && readBool(in, "skip_special", false, skip, error)) {
        if (mode == "decode") {
          out["text"] = t.decode(ids, skip);
        } else {
          sl::text::DecodeStream stream(t, skip);
          std::string text;
          for (int32_t id : ids)
            text += stream.push(id);
          text += stream.flush();
          out["text"] = text;
        }
      }
    }
    if (!error.empty()) {
      std::fprintf(stderr, "sl-tokenize: <stdin>:%zu: %s\n", lineNo, error.c_str());
      out = json{{"error", error}};
      status = 1;
    }
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  }
  return status;
}
