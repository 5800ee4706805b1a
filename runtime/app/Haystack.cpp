#include "runtime/app/Haystack.h"

#include "runtime/io/Files.h"
#include "runtime/io/Json.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace sl::runtime {

using nlohmann::json;

namespace {

// The UTF-8 characters of `text` (key letters are drawn per character, as Python's list(str)).
std::vector<std::string> characters(const std::string &text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    size_t n = 1;
    while (i + n < text.size() && (uint8_t(text[i + n]) & 0xC0) == 0x80)
      ++n;
    out.push_back(text.substr(i, n));
    i += n;
  }
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Draws of keys that may all collide with filler words or each other: past this many the task's
// key format cannot give the prompt's keys.
constexpr int kKeyAttempts = 100000;

}  // namespace

std::string fillIn(const std::string &pattern, const std::string &name, const std::string &value) {
  const std::string marker = "{" + name + "}";
  std::string out;
  size_t at = 0;
  while (true) {
    size_t next = pattern.find(marker, at);
    if (next == std::string::npos)
      break;
    out.append(pattern, at, next - at);
    out += value;
    at = next + marker.size();
  }
  out.append(pattern, at, std::string::npos);
  return out;
}

StatusOr<NiahTask> NiahTask::load(const std::string &path) {
  auto bytes = io::readWholeFile(path, "niah task file");
  if (!bytes)
    return bytes.status();
  return parse(std::string(bytes->begin(), bytes->end()), path);
}

StatusOr<NiahTask> NiahTask::parse(const std::string &text, const std::string &path) {
  auto root = io::parseJson(text, io::JsonLimits{}, "niah task file " + path);
  if (!root)
    return root.status();
  const std::string where = "niah task file " + path + ": ";
  if (!root->is_object())
    return Status::error(where + "expected a JSON object");
  NiahTask task;
  task.path = path;
  auto string = [&](const json &object, const char *key, const std::string &name,
                    std::string *out) -> Status {
    auto it = object.find(key);
    if (it == object.end())
      return Status::error(where + "missing \"" + name + "\"");
    if (!it->is_string() || it->get<std::string>().empty())
      return Status::error(where + "\"" + name + "\" must be a non-empty string");
    *out = it->get<std::string>();
    return Status::success();
  };
  auto words = root->find("filler_words");
  if (words == root->end())
    return Status::error(where + "missing \"filler_words\"");
  if (!words->is_array() || words->empty())
    return Status::error(where + "\"filler_words\" must be a non-empty array of words");
  for (size_t i = 0; i < words->size(); ++i) {
    const json &word = (*words)[i];
    // Pieces are joined by single spaces and cut at the end by characters: a word with white
    // space in it would move word boundaries.
    if (!word.is_string() || word.get<std::string>().empty() ||
        std::any_of(word.get_ref<const std::string &>().begin(),
                    word.get_ref<const std::string &>().end(), isSpace))
      return Status::error(where + "\"filler_words\"[" + std::to_string(i) +
                           "] must be a non-empty string without white space");
    task.fillerWords.push_back(word.get<std::string>());
  }
  for (const Status &status : {string(*root, "needle", "needle", &task.needle),
                               string(*root, "question", "question", &task.question)})
    if (!status)
      return status;
  if (task.needle.find("{key}") == std::string::npos ||
      task.needle.find("{value}") == std::string::npos)
    return Status::error(where + "\"needle\" must contain {key} and {value}");
  if (task.question.find("{key}") == std::string::npos)
    return Status::error(where + "\"question\" must contain {key}");
  auto key = root->find("key");
  if (key == root->end() || !key->is_object())
    return Status::error(where + "\"key\" must be an object {consonants, vowels, pattern}");
  for (const Status &status : {string(*key, "consonants", "key.consonants", &task.consonants),
                               string(*key, "vowels", "key.vowels", &task.vowels),
                               string(*key, "pattern", "key.pattern", &task.pattern)})
    if (!status)
      return status;
  if (task.pattern.find_first_not_of("CV") != std::string::npos)
    return Status::error(where + "\"key.pattern\" may hold only C (a consonant) and V (a vowel), got '" +
                         task.pattern + "'");
  auto digits = root->find("value_digits");
  if (digits == root->end() || !digits->is_number_integer() || digits->get<int64_t>() < 1 ||
      digits->get<int64_t>() > 64)
    return Status::error(where + "\"value_digits\" must be an integer in [1, 64]");
  task.valueDigits = digits->get<int64_t>();
  return task;
}

uint64_t NiahRng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t NiahRng::below(uint64_t n) {
  // Rejection of the top partial range keeps every value equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = next();
  while (x >= limit);
  return x % n;
}

double NiahRng::unit() { return double(next() >> 11) * 0x1.0p-53; }

uint64_t mixSeed(std::initializer_list<uint64_t> values) {
  uint64_t h = 0x6A09E667F3BCC908ull;
  for (uint64_t value : values) {
    NiahRng rng(h ^ value);
    h = rng.next();
  }
  return h;
}

HaystackBuilder::HaystackBuilder(const NiahTask &task, const text::Tokenizer &tokenizer,
                                 const text::ChatTemplate &chatTemplate)
    : task_(task), tokenizer_(tokenizer), template_(chatTemplate) {}

StatusOr<std::string> HaystackBuilder::renderText(const std::string &content) const {
  json messages = json::array({json{{"role", "user"}, {"content", content}}});
  auto text = template_.render(messages, nullptr, /*addGenerationPrompt=*/true, json::object(),
                               tokenizer_.bosText(), tokenizer_.eosText());
  if (!text)
    return Status::error("chat template: " + text.status().message());
  return text;
}

StatusOr<std::vector<int32_t>> HaystackBuilder::render(const std::string &content) const {
  auto text = renderText(content);
  if (!text)
    return text.status();
  return tokenizer_.encode(*text, /*addSpecial=*/false);
}

namespace {

// The filler of one (seed, length): words drawn uniformly, joined by single spaces, as one
// character stream of which a prompt takes a prefix. Grown on demand.
class FillerStream {
public:
  FillerStream(const std::vector<std::string> &words, uint64_t seed) : words_(words), rng_(seed) {}
  // The stream holds at least `chars` characters (or as many as asked for).
  void reach(int64_t chars) {
    while (int64_t(text_.size()) < chars) {
      if (!text_.empty())
        text_ += ' ';
      starts_.push_back(int64_t(text_.size()));
      text_ += words_[rng_.below(words_.size())];
    }
  }
  // Whether the first `chars` characters end between two words.
  bool endsInSpace(int64_t chars) {
    reach(chars);
    return chars > 0 && text_[size_t(chars - 1)] == ' ';
  }
  // The words (the last possibly cut) of the first `chars` characters.
  std::vector<std::string> words(int64_t chars) {
    reach(chars);
    std::vector<std::string> out;
    for (size_t i = 0; i < starts_.size() && starts_[i] < chars; ++i) {
      int64_t end = i + 1 < starts_.size() ? starts_[i + 1] - 1 : int64_t(text_.size());
      out.push_back(text_.substr(size_t(starts_[i]), size_t(std::min(end, chars) - starts_[i])));
    }
    return out;
  }

private:
  const std::vector<std::string> &words_;
  NiahRng rng_;
  std::string text_;
  std::vector<int64_t> starts_;
};

}  // namespace

StatusOr<NiahPrompt> HaystackBuilder::build(const HaystackSpec &spec) const {
  if (spec.needles < 1)
    return Status::error("a prompt needs at least one needle (the asked one)");
  if (!(spec.depth >= 0 && spec.depth <= 1))
    return Status::error("the needle depth " + std::to_string(spec.depth) +
                         " is outside [0, 1]");
  NiahPrompt prompt;
  NiahRng rng(spec.needleSeed);
  // Keys of one prompt are distinct and never a filler word (the question would be ambiguous).
  const std::vector<std::string> consonants = characters(task_.consonants),
                                 vowels = characters(task_.vowels);
  int attempts = 0;
  while (int64_t(prompt.keys.size()) < spec.needles) {
    if (++attempts > kKeyAttempts)
      return Status::error("niah task file " + task_.path + ": cannot draw " +
                           std::to_string(spec.needles) +
                           " distinct keys that are not filler words from its key format");
    std::string key;
    for (char c : task_.pattern) {
      const auto &letters = c == 'C' ? consonants : vowels;
      key += letters[rng.below(letters.size())];
    }
    if (std::find(task_.fillerWords.begin(), task_.fillerWords.end(), key) ==
            task_.fillerWords.end() &&
        std::find(prompt.keys.begin(), prompt.keys.end(), key) == prompt.keys.end())
      prompt.keys.push_back(key);
  }
  for (size_t i = 0; i < prompt.keys.size(); ++i) {
    std::string value;
    for (int64_t d = 0; d < task_.valueDigits; ++d)
      value += char('0' + rng.below(10));
    prompt.values.push_back(value);
  }
  std::vector<double> depths = {spec.depth};
  for (int64_t i = 1; i < spec.needles; ++i)
    depths.push_back(rng.unit());
  std::vector<std::string> needles;
  for (size_t i = 0; i < prompt.keys.size(); ++i)
    needles.push_back(fillIn(fillIn(task_.needle, "key", prompt.keys[i]), "value",
                             prompt.values[i]));
  const std::string question = fillIn(task_.question, "key", prompt.keys[0]);

  FillerStream filler(task_.fillerWords, spec.fillerSeed);
  // The prompt with the first `chars` filler characters: needles at the word boundaries nearest
  // to depth * (slots - 1) (Python's round: halves to even, as nearbyint), pieces joined by
  // single spaces. Filler cut right after a space keeps it when a word is the last piece (as the
  // reference's cut by tokens does), so that every length is reachable. `sharedOffset` is the
  // content's offset of the first needle (or of the asked slot).
  struct Layout {
    std::string content;
    int64_t words = 0, slot = 0, needleOffset = -1, sharedOffset = 0;
  };
  auto layout = [&](int64_t chars) {
    Layout out;
    std::vector<std::string> words = filler.words(chars);
    out.words = int64_t(words.size());
    const int64_t slots = out.words + 1;
    std::vector<int64_t> at;
    for (double depth : depths)
      at.push_back(std::clamp<int64_t>(int64_t(std::nearbyint(depth * double(slots - 1))), 0,
                                       slots - 1));
    out.slot = at[0];
    std::string &text = out.content;
    int64_t first = -1;
    for (int64_t slot = 0; slot < slots; ++slot) {
      if (slot == out.slot && !spec.withNeedle)
        out.sharedOffset = int64_t(text.size()) + (text.empty() ? 0 : 1);
      for (size_t i = 0; spec.withNeedle && i < needles.size(); ++i) {
        if (at[i] != slot)
          continue;
        if (!text.empty())
          text += ' ';
        if (first < 0)
          first = int64_t(text.size());
        if (i == 0)
          out.needleOffset = int64_t(text.size());
        text += needles[i];
      }
      if (slot < out.words) {
        if (!text.empty())
          text += ' ';
        text += words[size_t(slot)];
      }
    }
    const bool needleLast =
        spec.withNeedle && std::find(at.begin(), at.end(), slots - 1) != at.end();
    if (out.words > 0 && !needleLast && filler.endsInSpace(chars))
      text += ' ';
    if (spec.withNeedle)
      out.sharedOffset = first;
    text += question;
    return out;
  };
  std::map<int64_t, int64_t> known;  // filler characters -> prompt tokens
  auto tokensOf = [&](int64_t chars) -> StatusOr<int64_t> {
    auto it = known.find(chars);
    if (it != known.end())
      return it->second;
    auto tokens = render(layout(chars).content);
    if (!tokens)
      return tokens.status();
    known[chars] = int64_t(tokens->size());
    return int64_t(tokens->size());
  };

  auto least = tokensOf(0);
  if (!least)
    return least.status();
  if (*least > spec.length)
    return Status::error("a prompt of " + std::to_string(spec.length) +
                         " tokens is too short: without any filler it already has " +
                         std::to_string(*least) + " (chat template, question" +
                         (spec.withNeedle ? std::string(", needles") : std::string()) + ")");
  // Tokens per filler character, from the words' own tokens: the first guess of the search.
  double ratio = 0;
  {
    int64_t tokens = 0, chars = 0;
    for (const std::string &word : task_.fillerWords) {
      auto ids = tokenizer_.encode(" " + word, /*addSpecial=*/false);
      if (!ids)
        return ids.status();
      tokens += int64_t(ids->size());
      chars += int64_t(word.size()) + 1;
    }
    ratio = std::max(1e-3, double(tokens) / double(chars));
  }
  // The filler length whose prompt is closest to the target: a bracket [lo (at most the
  // target), hi (past it)] narrowed by interpolation and bisection. One more character is
  // nearly always zero or one more token, so the bracket mostly closes on an exact hit. Counts
  // can be skipped (a BPE merge; or a needle last: a cut after a space gives the text of the cut
  // before it), and then the nearer side wins (ties: the shorter).
  int64_t lo = 0, loTokens = *least, hi = -1, hiTokens = 0;
  int64_t guess = int64_t(double(spec.length - *least) / ratio);
  for (int step = 0; loTokens != spec.length && step < 200; ++step) {
    int64_t c;
    if (hi < 0) {
      c = std::max(guess, lo + 1);
    } else {
      if (hi - lo <= 1)
        break;
      // Every other step halves the bracket, whatever the interpolation does.
      c = step % 2 == 0 && guess > lo && guess < hi ? guess : lo + (hi - lo) / 2;
    }
    auto tokens = tokensOf(c);
    if (!tokens)
      return tokens.status();
    if (*tokens <= spec.length) {
      lo = c;
      loTokens = *tokens;
    } else {
      hi = c;
      hiTokens = *tokens;
    }
    if (hi >= 0)
      guess = lo + int64_t(double(spec.length - loTokens) * double(hi - lo) /
                           double(std::max<int64_t>(1, hiTokens - loTokens)));
    else
      guess = c + std::max<int64_t>(1, int64_t(double(spec.length - *tokens) / ratio * 1.05));
  }
  const int64_t chars =
      hi >= 0 && hiTokens - spec.length < spec.length - loTokens ? hi : lo;
  Layout best = layout(chars);
  auto text = renderText(best.content);
  if (!text)
    return text.status();
  auto tokens = tokenizer_.encode(*text, /*addSpecial=*/false);
  if (!tokens)
    return tokens.status();
  prompt.tokens = std::move(*tokens);
  prompt.content = std::move(best.content);
  prompt.words = best.words;
  prompt.slot = best.slot;
  prompt.needleOffset = best.needleOffset;
  // The shared part in tokens: the rendered text up to the first needle (without the space that
  // joins it), tokenized; only what agrees with the whole prompt's tokens counts.
  const size_t contentAt = text->find(prompt.content);
  if (contentAt != std::string::npos) {
    const size_t cut = contentAt + size_t(best.sharedOffset) - (best.sharedOffset > 0 ? 1 : 0);
    auto head = tokenizer_.encode(text->substr(0, cut), /*addSpecial=*/false);
    if (!head)
      return head.status();
    size_t same = 0;
    while (same < head->size() && same < prompt.tokens.size() &&
           (*head)[same] == prompt.tokens[same])
      ++same;
    prompt.sharedTokens = int64_t(same);
  }
  return prompt;
}

}  // namespace sl::runtime
