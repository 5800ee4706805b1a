// Needle-in-a-haystack prompts (docs/niah.md): the task file (niah_task.json: filler words, the
// needle, the question, the key and value formats) and the builder of one prompt of a given
// length in tokens, with the asked needle at a given depth. The text layout is the one of
// tools/niah/task.py (the reference the models are trained on): filler words and needles joined
// by single spaces, the question right after the haystack in one user message, rendered by the
// model's chat template as `slrun serve` renders a chat request.
#pragma once

#include "runtime/support/Status.h"
#include "runtime/text/ChatTemplate.h"
#include "runtime/text/Tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::runtime {

struct NiahTask {
  std::string path;  // where it was read from (for messages)
  std::vector<std::string> fillerWords;
  std::string needle;    // with {key} and {value}
  std::string question;  // with {key}
  std::string consonants, vowels, pattern;  // key letters; pattern of 'C' and 'V'
  int64_t valueDigits = 0;

  // Reads and checks a task file; errors name the file and the field.
  static StatusOr<NiahTask> load(const std::string &path);
  static StatusOr<NiahTask> parse(const std::string &text, const std::string &path);
};

// "{name}" replaced by `value` everywhere in `pattern`.
std::string fillIn(const std::string &pattern, const std::string &name, const std::string &value);

// A deterministic generator (splitmix64) whose draws are integer arithmetic only: the same seed
// gives the same prompts on every platform and standard library.
class NiahRng {
public:
  explicit NiahRng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  uint64_t below(uint64_t n);  // uniform in [0, n), n >= 1
  double unit();               // uniform in [0, 1)

private:
  uint64_t state_;
};

// A 64-bit mix of the values (seeds of the filler and of the needles).
uint64_t mixSeed(std::initializer_list<uint64_t> values);

struct HaystackSpec {
  int64_t length = 0;      // target tokens of the whole rendered prompt
  double depth = 0;        // the asked needle's place in [0, 1]
  int64_t needles = 1;     // the asked one plus distractors
  bool withNeedle = true;  // false: the same prompt without any needle (the control)
  uint64_t fillerSeed = 0; // the filler word stream (fixed per seed and length)
  uint64_t needleSeed = 0; // keys, values and distractor depths (fresh per trial)
};

struct NiahPrompt {
  std::string content;          // the user message: haystack + question
  std::vector<int32_t> tokens;  // the rendered prompt
  std::vector<std::string> keys, values;  // [0] is the asked needle
  int64_t words = 0;            // filler words (the last one may be cut)
  int64_t slot = 0;             // the asked needle's word boundary, 0..words
  // Prompt tokens before the first needle (or where the asked one would be without needles):
  // the part a prompt at a deeper depth shares.
  int64_t sharedTokens = 0;
  // Offset of the asked needle's text in `content` (-1 without needles).
  int64_t needleOffset = -1;
};

class HaystackBuilder {
public:
  // The tokenizer and template render prompts exactly as `slrun serve` renders a chat request
  // (bos text of the tokenizer, add_generation_prompt, encoded without special tokens added).
  HaystackBuilder(const NiahTask &task, const text::Tokenizer &tokenizer,
                  const text::ChatTemplate &chatTemplate);

  // A prompt of `spec.length` tokens, or the closest the tokenizer allows (the filler is cut
  // character by character at its end, never into a needle). An error when the prompt without
  // any filler is already longer.
  StatusOr<NiahPrompt> build(const HaystackSpec &spec) const;
  // The tokens of the rendered chat prompt whose user message is `content`.
  StatusOr<std::vector<int32_t>> render(const std::string &content) const;

private:
  StatusOr<std::string> renderText(const std::string &content) const;
  const NiahTask &task_;
  const text::Tokenizer &tokenizer_;
  const text::ChatTemplate &template_;
};

}  // namespace sl::runtime
