// The needle-in-a-haystack prompt builder (runtime/app/Haystack.h) on the real tokenizer and chat
// template of models/niah-tiny (byte-level: one token per byte) and of models/tiny (byte-level
// BPE with merges), and the option parsers of slrun niah.
#include "runtime/app/Haystack.h"
#include "runtime/app/Niah.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>

namespace sl::runtime {
namespace {

const std::string kRoot = SL_SOURCE_DIR;

// A task, tokenizer and template loaded once per model directory.
struct Model {
  explicit Model(const std::string &dir, const std::string &taskPath) {
    auto loadedTask = NiahTask::load(taskPath);
    auto loadedTokenizer = text::Tokenizer::load(dir);
    auto loadedTemplate = text::ChatTemplate::load(dir);
    if (!loadedTask || !loadedTokenizer || !loadedTemplate) {
      error = loadedTask.status().message() + loadedTokenizer.status().message() +
              loadedTemplate.status().message();
      return;
    }
    task.emplace(std::move(*loadedTask));
    tokenizer.emplace(std::move(*loadedTokenizer));
    chatTemplate.emplace(std::move(*loadedTemplate));
    builder.emplace(*task, *tokenizer, *chatTemplate);
  }
  std::optional<NiahTask> task;
  std::optional<text::Tokenizer> tokenizer;
  std::optional<text::ChatTemplate> chatTemplate;
  std::optional<HaystackBuilder> builder;
  std::string error;
};

Model &niahTiny() {
  static Model model(kRoot + "/models/niah-tiny", kRoot + "/models/niah-tiny/niah_task.json");
  return model;
}

Model &tiny() {
  static Model model(kRoot + "/models/tiny", kRoot + "/tests/niah/Inputs/task.json");
  return model;
}

HaystackSpec spec(int64_t length, double depth, uint64_t needleSeed = 1, int64_t needles = 1) {
  HaystackSpec s;
  s.length = length;
  s.depth = depth;
  s.needles = needles;
  s.fillerSeed = 7;
  s.needleSeed = needleSeed;
  return s;
}

std::string needleText(const NiahTask &task, const NiahPrompt &prompt, size_t i) {
  return fillIn(fillIn(task.needle, "key", prompt.keys[i]), "value", prompt.values[i]);
}

size_t count(const std::string &text, const std::string &piece) {
  size_t n = 0;
  for (size_t at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1))
    ++n;
  return n;
}

// One token per byte: every length is reachable from the prompt without filler (86 tokens)
// plus two (the first filler character comes with its joining space), except that with the
// needle last a cut right after a space and the cut before it give the same text (one count in
// a word's length is skipped there, and the prompt is one token short).
TEST(HaystackTest, ExactLengthsOnTheNiahTinyTokenizer) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  int lastShort = 0;
  for (int64_t length = 88; length < 400; ++length)
    for (double depth : {0.0, 0.3, 0.5, 1.0}) {
      auto prompt = m.builder->build(spec(length, depth, uint64_t(length) * 3 + 1));
      ASSERT_TRUE(prompt) << prompt.status().message();
      if (depth < 1) {
        EXPECT_EQ(int64_t(prompt->tokens.size()), length) << "depth " << depth;
      } else {
        EXPECT_LE(length - int64_t(prompt->tokens.size()), 1) << length;
        EXPECT_GE(length - int64_t(prompt->tokens.size()), 0) << length;
        lastShort += int64_t(prompt->tokens.size()) != length;
      }
    }
  EXPECT_LT(lastShort, 100);  // about one length in a word's length plus one
  for (int64_t length : {1000, 4096, 20000, 100000}) {
    auto prompt = m.builder->build(spec(length, 0.5, uint64_t(length)));
    ASSERT_TRUE(prompt) << prompt.status().message();
    EXPECT_EQ(int64_t(prompt->tokens.size()), length);
  }
}

// The rendering of models/niah-tiny's chat template, as tools/niah/task.py lays it out for
// training: bos, <|im_start|>user\n, the message's bytes, <|im_end|>\n<|im_start|>assistant\n
// (byte b is token 5 + b).
TEST(HaystackTest, RendersLikeTheTrainingFormat) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  auto prompt = m.builder->build(spec(500, 0.5));
  ASSERT_TRUE(prompt) << prompt.status().message();
  auto bytes = [](const std::string &text) {
    std::vector<int32_t> ids;
    for (unsigned char c : text)
      ids.push_back(5 + int32_t(c));
    return ids;
  };
  std::vector<int32_t> expected = {1, 3};
  for (const std::string &piece : {std::string("user\n"), prompt->content}) {
    auto ids = bytes(piece);
    expected.insert(expected.end(), ids.begin(), ids.end());
  }
  expected.push_back(4);
  expected.push_back(5 + '\n');
  expected.push_back(3);
  auto tail = bytes("assistant\n");
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_EQ(prompt->tokens, expected);
  // Pieces joined by single spaces, the question right after the haystack.
  const std::string question = fillIn(m.task->question, "key", prompt->keys[0]);
  ASSERT_GE(prompt->content.size(), question.size());
  EXPECT_EQ(prompt->content.substr(prompt->content.size() - question.size()), question);
  const std::string haystack = prompt->content.substr(0, prompt->content.size() - question.size());
  EXPECT_EQ(haystack.find("  "), std::string::npos);
  EXPECT_NE(haystack.front(), ' ');
  EXPECT_NE(haystack.back(), ' ');
  EXPECT_EQ(count(haystack, needleText(*m.task, *prompt, 0)), 1u);
}

TEST(HaystackTest, NeedleAtTheRequestedDepth) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  for (double depth : {0.0, 0.5, 1.0}) {
    auto prompt = m.builder->build(spec(2000, depth));
    ASSERT_TRUE(prompt) << prompt.status().message();
    const std::string needle = needleText(*m.task, *prompt, 0);
    const std::string question = fillIn(m.task->question, "key", prompt->keys[0]);
    ASSERT_GE(prompt->needleOffset, 0);
    EXPECT_EQ(prompt->content.compare(size_t(prompt->needleOffset), needle.size(), needle), 0);
    // Words before the needle: the word boundary nearest to depth * words.
    const std::string before = prompt->content.substr(0, size_t(prompt->needleOffset));
    const int64_t wordsBefore = int64_t(count(before, " "));
    EXPECT_EQ(wordsBefore, int64_t(std::nearbyint(depth * double(prompt->words))));
    EXPECT_EQ(prompt->slot, wordsBefore);
    if (depth == 0.0) {
      EXPECT_EQ(prompt->needleOffset, 0);
    }
    if (depth == 1.0) {
      EXPECT_EQ(prompt->content.substr(size_t(prompt->needleOffset)), needle + question);
    }
    // The token where the needle starts: the shared prefix ends just before it (its joining
    // space is not shared), after the 7 tokens of bos, <|im_start|>user\n.
    EXPECT_EQ(prompt->sharedTokens, 7 + std::max<int64_t>(prompt->needleOffset - 1, 0));
  }
}

TEST(HaystackTest, Deterministic) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  auto a = m.builder->build(spec(1500, 0.25, 11, 3));
  auto b = m.builder->build(spec(1500, 0.25, 11, 3));
  auto c = m.builder->build(spec(1500, 0.25, 12, 3));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_EQ(a->keys, b->keys);
  EXPECT_EQ(a->values, b->values);
  EXPECT_NE(a->keys, c->keys);  // fresh needles from another seed
}

// One (seed, length) has one filler stream: prompts at two depths agree up to the shallower
// needle, which is what the prefill reuse across depths relies on.
TEST(HaystackTest, DepthsShareTheirPrefix) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  auto shallow = m.builder->build(spec(3000, 0.25, 1));
  auto deep = m.builder->build(spec(3000, 0.75, 2));
  ASSERT_TRUE(shallow && deep);
  ASSERT_GT(shallow->sharedTokens, 100);
  EXPECT_GT(deep->sharedTokens, shallow->sharedTokens);
  EXPECT_TRUE(std::equal(shallow->tokens.begin(), shallow->tokens.begin() + shallow->sharedTokens,
                         deep->tokens.begin()));
  // The shared part ends at the needle: the next token differs.
  EXPECT_NE(shallow->tokens[size_t(shallow->sharedTokens) + 1],
            deep->tokens[size_t(shallow->sharedTokens) + 1]);
}

TEST(HaystackTest, DistractorsHaveDistinctKeys) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  auto prompt = m.builder->build(spec(3000, 0.5, 5, 6));
  ASSERT_TRUE(prompt) << prompt.status().message();
  EXPECT_EQ(int64_t(prompt->tokens.size()), 3000);
  ASSERT_EQ(prompt->keys.size(), 6u);
  EXPECT_EQ(std::set<std::string>(prompt->keys.begin(), prompt->keys.end()).size(), 6u);
  for (size_t i = 0; i < prompt->keys.size(); ++i) {
    EXPECT_EQ(prompt->keys[i].size(), m.task->pattern.size());
    EXPECT_EQ(prompt->values[i].size(), size_t(m.task->valueDigits));
    EXPECT_EQ(count(prompt->content, needleText(*m.task, *prompt, i)), 1u) << i;
  }
  // Only the asked key is in the question.
  EXPECT_NE(prompt->content.find("pass key for " + prompt->keys[0] + "?"), std::string::npos);
}

TEST(HaystackTest, WithoutNeedleTheSameLengthAndNoNeedle) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  HaystackSpec s = spec(1200, 0.5);
  s.withNeedle = false;
  auto control = m.builder->build(s);
  auto needled = m.builder->build(spec(1200, 0.5));
  ASSERT_TRUE(control && needled);
  EXPECT_EQ(control->tokens.size(), 1200u);
  EXPECT_EQ(control->values, needled->values);  // scored against the same value
  EXPECT_EQ(control->content.find("The pass key for"), std::string::npos);
  EXPECT_EQ(control->needleOffset, -1);
}

// Keys equal to a filler word are drawn again: with every key but "dad" a filler word, every
// prompt asks for "dad"; two distinct keys cannot be drawn at all.
TEST(HaystackTest, KeysAreNeverFillerWords) {
  auto task = NiahTask::parse(
      R"({"filler_words": ["bab", "bad", "dab", "word"], "needle": "K {key} V {value}.",
          "question": " Q {key}?", "key": {"consonants": "bd", "vowels": "a", "pattern": "CVC"},
          "value_digits": 3})",
      "test.json");
  ASSERT_TRUE(task) << task.status().message();
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  HaystackBuilder builder(*task, *m.tokenizer, *m.chatTemplate);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto prompt = builder.build(spec(300, 0.5, seed));
    ASSERT_TRUE(prompt) << prompt.status().message();
    EXPECT_EQ(prompt->keys[0], "dad");
    EXPECT_EQ(prompt->tokens.size(), 300u);
  }
  auto two = builder.build(spec(300, 0.5, 1, 2));
  ASSERT_FALSE(two);
  EXPECT_NE(two.status().message().find("cannot draw 2 distinct keys"), std::string::npos)
      << two.status().message();
}

TEST(HaystackTest, TooShortIsAnError) {
  Model &m = niahTiny();
  ASSERT_TRUE(m.builder) << m.error;
  auto prompt = m.builder->build(spec(50, 0.5));
  ASSERT_FALSE(prompt);
  EXPECT_NE(prompt.status().message().find("a prompt of 50 tokens is too short: without any "
                                           "filler it already has 86"),
            std::string::npos)
      << prompt.status().message();
  // The prompt without filler fits exactly.
  auto least = m.builder->build(spec(86, 0.5));
  ASSERT_TRUE(least) << least.status().message();
  EXPECT_EQ(least->words, 0);
}

// models/tiny's byte-level BPE merges characters into tokens: the search over the filler's
// characters still lands on the exact count nearly always (88 of these 90; the others are one
// off, where a merge skips the count).
TEST(HaystackTest, ExactLengthsOnABpeTokenizer) {
  Model &m = tiny();
  ASSERT_TRUE(m.builder) << m.error;
  int exact = 0, total = 0;
  for (int64_t length = 100; length <= 3000; length += 97)
    for (double depth : {0.0, 0.5, 1.0}) {
      auto prompt = m.builder->build(spec(length, depth, uint64_t(length)));
      ASSERT_TRUE(prompt) << prompt.status().message();
      EXPECT_LE(std::abs(int64_t(prompt->tokens.size()) - length), 1) << length;
      exact += int64_t(prompt->tokens.size()) == length;
      ++total;
    }
  EXPECT_GE(exact, total - 4);
}

TEST(HaystackTest, TaskFileErrorsNameTheField) {
  auto check = [](const std::string &text, const std::string &expected) {
    auto task = NiahTask::parse(text, "t.json");
    ASSERT_FALSE(task) << text;
    EXPECT_NE(task.status().message().find("niah task file t.json: " + expected),
              std::string::npos)
        << task.status().message();
  };
  const std::string key = R"("key": {"consonants": "b", "vowels": "a", "pattern": "CV"})";
  check("[1]", "expected a JSON object");
  check(R"({"needle": "x"})", "missing \"filler_words\"");
  check(R"({"filler_words": ["a b"]})", "\"filler_words\"[0] must be a non-empty string");
  check(R"({"filler_words": ["a"], "needle": "{key}", "question": "{key}", )" + key +
            R"(, "value_digits": 2})",
        "\"needle\" must contain {key} and {value}");
  check(R"({"filler_words": ["a"], "needle": "{key}{value}", "question": "?", )" + key +
            R"(, "value_digits": 2})",
        "\"question\" must contain {key}");
  check(R"({"filler_words": ["a"], "needle": "{key}{value}", "question": "{key}",
            "key": {"consonants": "b", "vowels": "a", "pattern": "CX"}, "value_digits": 2})",
        "\"key.pattern\" may hold only C");
  check(R"({"filler_words": ["a"], "needle": "{key}{value}", "question": "{key}", )" + key +
            R"(, "value_digits": 0})",
        "\"value_digits\" must be an integer in [1, 64]");
  check("{", "");  // malformed JSON names the file
}

TEST(NiahOptionsTest, Lengths) {
  auto lengths = parseNiahLengths("300,1K,16k,1M");
  ASSERT_TRUE(lengths) << lengths.status().message();
  EXPECT_EQ(*lengths, (std::vector<int64_t>{300, 1024, 16384, 1048576}));
  for (const char *bad : {"", "0", "-5", "12x", "1,,2", "1,", "3000M", "5,5"})
    EXPECT_FALSE(parseNiahLengths(bad)) << bad;
}

TEST(NiahOptionsTest, Depths) {
  auto listed = parseNiahDepths("1,0,0.5");
  ASSERT_TRUE(listed);
  EXPECT_EQ(*listed, (std::vector<double>{0, 0.5, 1}));
  auto counted = parseNiahDepths("5");
  ASSERT_TRUE(counted);
  EXPECT_EQ(*counted, (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  auto one = parseNiahDepths("1");  // a depth, not a count
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, (std::vector<double>{1}));
  for (const char *bad : {"", "1.5", "-0.1", "x", "0.5,0.5", "0,", "nan"})
    EXPECT_FALSE(parseNiahDepths(bad)) << bad;
  auto outside = parseNiahDepths("0,1.5");
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.status().message().find("1.5 is outside [0, 1]"), std::string::npos);
}

}  // namespace
}  // namespace sl::runtime
