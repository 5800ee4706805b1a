// HuggingFace tokenizers (tokenizer.json): byte-level BPE with merges, the pre-tokenizer split
// regex (PCRE2), the normalizers and decoders such files use, added and special tokens; plus
// bos/eos/stop tokens from tokenizer_config.json and generation_config.json.
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sl::text {

class Tokenizer {
public:
  // `dir` holds tokenizer.json (and optionally tokenizer_config.json, generation_config.json).
  // Errors name the file and the unsupported or malformed part.
  static StatusOr<Tokenizer> load(const std::string &dir);
  // The tokenizer of a tokenizer.json text alone (no bos/eos from config files); `path` names
  // it in errors.
  static StatusOr<Tokenizer> fromJson(const std::string &text, const std::string &path);

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  // Token ids of `text`; added/special tokens written in the text are recognised as such.
  // `addSpecial` applies the post-processor (e.g. a leading bos), as HF's add_special_tokens.
  StatusOr<std::vector<int32_t>> encode(const std::string &text, bool addSpecial) const;
  // The text of `ids` (HF decode); `skipSpecial` drops special tokens.
  std::string decode(const std::vector<int32_t> &ids, bool skipSpecial) const;

  int64_t vocabSize() const;                              // including added tokens
  std::optional<int32_t> tokenId(const std::string &token) const;
  std::string tokenText(int32_t id) const;                // the vocabulary entry ("" if none)
  bool isSpecial(int32_t id) const;
  std::optional<int32_t> bos() const;
  std::vector<int32_t> eos() const;                       // every stop token id
  std::string bosText() const;                            // for chat templates ("" if none)
  std::string eosText() const;

private:
  friend class DecodeStream;
  // Whether the last id of `ids` that decodes to something is a byte-fallback token (<0xXX>)
  // under a ByteFallback decoder: its text can still change with the ids that follow.
  bool endsInByteRun(const std::vector<int32_t> &ids, bool skipSpecial) const;

  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Detokenisation for streaming: push ids one by one, get the text that is complete so far
// (a UTF-8 character split across tokens is held back until it is whole).
class DecodeStream {
public:
  DecodeStream(const Tokenizer &tokenizer, bool skipSpecial);
  std::string push(int32_t id);
  std::string flush();  // whatever is left (invalid UTF-8 as U+FFFD, like HF)

private:
  // As HF's DecodeStream: `ids_` is a window of the latest ids whose first `prefixIndex_` ids
  // decode to `prefix_`, text already returned; new text = decode(ids_) past `prefix_`, emitted
  // only when it does not end in U+FFFD (an incomplete character).
  const Tokenizer &tokenizer_;
  bool skipSpecial_;
  std::vector<int32_t> ids_;
  std::string prefix_;
  size_t prefixIndex_ = 0;
};

}  // namespace sl::text
