// Regression tests for what fuzzing (tests/fuzz/jinja_template_fuzzer.cpp) found in the Jinja
// engine: hostile templates end in an error Status, never in undefined behaviour, a crash or an
// endless render.
#include "runtime/text/Jinja.h"

#include <gtest/gtest.h>

#include <string>

using sl::text::jinja::Template;
using Json = nlohmann::ordered_json;

namespace {

// The render's error message ("" when it renders).
std::string renderError(const std::string &src) {
  auto t = Template::parse(src, "t.jinja");
  if (!t.ok())
    return "parse: " + t.status().message();
  auto r = t->render(Json::object());
  return r.ok() ? "" : r.status().message();
}

std::string renderText(const std::string &src) {
  auto t = Template::parse(src, "t.jinja");
  EXPECT_TRUE(t.ok()) << t.status().message();
  auto r = t->render(Json::object());
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : "";
}

TEST(JinjaLimits, IntegerOverflowIsAnError) {
  for (const char *src : {"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}",
                          "{{ 4611686018427387904 * 2 }}", "{{ -(-9223372036854775807 - 1) }}",
                          "{{ (-9223372036854775807 - 1) // -1 }}", "{{ (-9223372036854775807 - 1) | abs }}",
                          "{{ 3 ** 40 }}", "{{ 1e300 | int }}", "{{ '%d' % 1e300 }}"})
    EXPECT_NE(renderError(src).find("64-bit range"), std::string::npos) << src;
  EXPECT_EQ(renderText("{{ (-9223372036854775807 - 1) % -1 }}"), "0");
  EXPECT_EQ(renderText("{{ 2 ** 62 }}"), "4611686018427387904");
  EXPECT_EQ(renderText("{{ (-2) ** 63 }}"), "-9223372036854775808");
}

TEST(JinjaLimits, HugeExponentOfOneIsQuick) {
  EXPECT_EQ(renderText("{{ 1 ** 999999999999999999 }}|{{ (-1) ** 999999999999999999 }}"), "1|-1");
}

TEST(JinjaLimits, RepeatingNothingManyTimesIsQuick) {
  EXPECT_EQ(renderText("{{ 9999999999999 * () }}|{{ '' * 9999999999999 }}|{{ [] * 999999999999 }}"),
            "()||[]");
}

TEST(JinjaLimits, RangeNearTheIntegerLimitEnds) {
  EXPECT_EQ(renderText("{{ range(9223372036854775806, 9223372036854775807, 5) | list }}"),
            "[9223372036854775806]");
}

TEST(JinjaLimits, HugeWidthsAreErrors) {
  for (const char *src : {"{{ 'a' | center(99999999999) }}", "{{ 'a'.zfill(99999999999) }}",
                          "{{ 'a\nb' | indent(99999999999) }}", "{{ [1] | tojson(indent=99999999999) }}",
                          "{{ '%99999999999s' % 'a' }}", "{{ '{:99999999999}'.format('a') }}",
                          "{{ 'ab' * 40000000 }}"})
    EXPECT_NE(renderError(src).find("too large"), std::string::npos) << src;
}

TEST(JinjaLimits, SliceInsideATupleSubscriptIsASyntaxError) {
  EXPECT_NE(renderError("{{ 'abcdef'[::2, 1] }}").find("slice inside a tuple subscript"),
            std::string::npos);
}

TEST(JinjaLimits, ExpensiveTemplatesStop) {
  std::string error = renderError(
      "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  EXPECT_NE(error.find("too expensive"), std::string::npos) << error;
  error = renderError("{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                      "{% set ns.s = ns.s + ns.s %}{% endfor %}");
  EXPECT_NE(error.find("too large"), std::string::npos) << error;
  // Quadratic: each iteration copies the whole string built so far.
  error = renderError("{% set ns = namespace(s='') %}{% for i in range(100000) %}"
                      "{% set ns.s = ns.s ~ ('x' * 1000) %}{% endfor %}");
  EXPECT_NE(error.find("too expensive"), std::string::npos) << error;
}

TEST(JinjaLimits, DeepNestingIsAnError) {
  for (char open : {'(', '[', '{'}) {
    const char close = open == '(' ? ')' : open == '[' ? ']' : '}';
    const std::string src = "{{ " + std::string(100000, open) + std::string(100000, close) + " }}";
    EXPECT_NE(renderError(src).find("nested too deeply"), std::string::npos) << open;
  }
  EXPECT_NE(renderError("{{ " + std::string(100000, '-') + "1 }}").find("nested too deeply"),
            std::string::npos);
  // Left-associative chains built a tree as deep as the chain is long, whose evaluation and
  // destruction recursed until the stack overflowed.
  auto repeat = [](const std::string &piece, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
      out += piece;
    return out;
  };
  for (const std::string &src :
       {"{{ " + repeat("1 + ", 100000) + "1 }}", "{{ " + repeat("1 and ", 100000) + "1 }}",
        "{{ " + repeat("2 ** ", 100000) + "1 }}", "{{ x" + repeat(".a", 100000) + " }}",
        "{{ x" + repeat("[0]", 100000) + " }}", "{{ x" + repeat("()", 100000) + " }}",
        "{{ x" + repeat(" | trim", 100000) + " }}",
        "{% filter " + repeat("trim | ", 100000) + "trim %}{% endfilter %}"})
    EXPECT_NE(renderError(src).find("nested too deeply"), std::string::npos) << src.substr(0, 20);
  std::string ifs;
  for (int i = 0; i < 5000; ++i)
    ifs += "{% if 1 %}";
  EXPECT_NE(renderError(ifs).find("nested too deeply"), std::string::npos);
}

}  // namespace
