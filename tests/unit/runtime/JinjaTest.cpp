// The Jinja subset of chat templates: syntax errors with line/column, runtime errors as
// Status, and a few semantics (the full comparison against jinja2 is tests/chat/).
#include "runtime/text/ChatTemplate.h"
#include "runtime/text/Jinja.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

using sl::text::ChatTemplate;
using sl::text::jinja::Template;
using Json = nlohmann::ordered_json;

namespace {

std::string render(const std::string &src, const Json &vars = Json::object()) {
  auto t = Template::parse(src, "t.jinja");
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return "<parse error>";
  auto r = t->render(vars);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : "<render error: " + r.status().message() + ">";
}

std::string parseError(const std::string &src) {
  auto t = Template::parse(src, "t.jinja");
  EXPECT_FALSE(t.ok());
  return t.ok() ? "" : t.status().message();
}

std::string renderError(const std::string &src, const Json &vars = Json::object()) {
  auto t = Template::parse(src, "t.jinja");
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return "";
  auto r = t->render(vars);
  EXPECT_FALSE(r.ok()) << *r;
  return r.ok() ? "" : r.status().message();
}

TEST(JinjaTest, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_EQ(parseError("line one\n{% if x %}\nno end"), "t.jinja:3:7: unexpected end of template, expected 'elif' or 'else' or 'endif'");
  EXPECT_EQ(parseError("a\n  {{ 1 + }}"), "t.jinja:2:10: unexpected end of print statement");
  EXPECT_EQ(parseError("{% endfor %}"), "t.jinja:1:4: encountered unknown tag 'endfor'");
  EXPECT_EQ(parseError("x\n\n{{ y | nosuch }}"), "t.jinja:3:8: no filter named 'nosuch'");
  EXPECT_EQ(parseError("{{ x is nosuch }}"), "t.jinja:1:9: no test named 'nosuch'");
  EXPECT_EQ(parseError("{{ 'abc }}"), "t.jinja:1:4: unterminated string literal");
  EXPECT_EQ(parseError("{# open"), "t.jinja:1:1: missing end of comment tag");
  EXPECT_EQ(parseError("{% for in x %}{% endfor %}"), "t.jinja:1:11: expected 'in', got 'x'");
  EXPECT_EQ(parseError("{{ (1, 2 }}"), "t.jinja:1:11: unexpected '}'");
}

TEST(JinjaTest, RuntimeErrorsAreStatuses) {
  EXPECT_EQ(renderError("ok\n{{ raise_exception('bad role: ' ~ r) }}", {{"r", "narrator"}}), "bad role: narrator");
  EXPECT_EQ(renderError("\n{{ raise_exception('') }}"), "t.jinja:2: raise_exception() with an empty message");
  EXPECT_EQ(renderError("\n\n{{ 'a' + 1 }}"), "t.jinja:3: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(renderError("{{ missing.attr }}"), "t.jinja:1: 'missing' is undefined");
  EXPECT_EQ(renderError("{{ 1 // 0 }}"), "t.jinja:1: integer division or modulo by zero");
  EXPECT_EQ(renderError("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"), "t.jinja:1: maximum recursion depth exceeded");
  EXPECT_EQ(renderError("{{ range(1000000) | length }}"),
            "t.jinja:1: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
}

TEST(JinjaTest, WhitespaceControlAndEnvironmentSettings) {
  // trim_blocks drops the newline after a block tag, lstrip_blocks the indentation before it.
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\ny"), "  x\ny");
  EXPECT_EQ(render("a  {{- ' b ' -}}  c"), "a b c");
  EXPECT_EQ(render("a {%+ if true %}b{% endif +%}\nc"), "a b\nc");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  EXPECT_EQ(render("one\n"), "one");  // a single trailing newline is dropped
}

TEST(JinjaTest, Semantics) {
  Json vars = {{"messages", Json::array({{{"role", "user"}, {"content", "hi"}},
                                         {{"role", "assistant"}, {"content", "yo"}}})},
               {"obj", {{"z", 1}, {"a", 2}}}};
  EXPECT_EQ(render("{% for m in messages %}{{ loop.index }}{{ m.role[0] }}{% if not loop.last %},{% endif %}{% endfor %}", vars), "1u,2a");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", vars), "2");
  EXPECT_EQ(render("{{ obj | tojson }}", vars), "{\"z\": 1, \"a\": 2}");  // insertion order
  EXPECT_EQ(render("{{ obj | tojson(indent=2) }}", vars), "{\n  \"z\": 1,\n  \"a\": 2\n}");
  EXPECT_EQ(render("{{ 'é' | tojson }}"), "\"é\"");  // ensure_ascii=False
  EXPECT_EQ(render("[{{ nothing }}]{{ nothing is defined }}{{ nothing | default('d') }}"), "[]Falsed");
  EXPECT_EQ(render("{{ 'abc'[::-1] }}{{ [1, 2, 3][1:] }}{{ 7 // 2 }}{{ -7 % 3 }}{{ 1 / 2 }}"), "cba[2, 3]320.5");
  EXPECT_EQ(render("{{ 'x' if 1 > 2 else 'y' }}{{ 2 is divisibleby 2 }}{{ none is none }}"), "yTrueTrue");
  EXPECT_EQ(render("{% macro m(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}"), "1B23");
  EXPECT_EQ(render("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join }}", vars), "hi");
  EXPECT_EQ(render("{{ ' a b '.strip().split(' ') }}"), "['a', 'b']");
  EXPECT_EQ(render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ true }} {{ none }}"), "1.0 0.30000000000000004 1e-05 True None");
  EXPECT_EQ(render("{{ 'abcdefghij' | truncate(7, leeway=0) }}|{{ 'ab cd ef gh' | truncate(8, leeway=0) }}"),
            "abcd...|ab...");
  // Python's integers do not overflow (a fuzzer found 7 + leeway=INT64_MAX).
  EXPECT_EQ(render("{{ 'abcdefghij' | truncate(7, leeway=9223372036854775807) }}"), "abcdefghij");
  EXPECT_EQ(render("{{ 'abcdefghij' | truncate(9223372036854775807, leeway=9223372036854775807) }}"),
            "abcdefghij");
}

// Containers that hold themselves (a namespace in its own attribute, a list appended to itself,
// a bound method or a macro whose scope holds the container) render as jinja2 renders them and
// are freed with the render (the sanitizer build fails on a leak; a fuzzer found the first).
TEST(JinjaTest, SelfReferencesAreFreed) {
  EXPECT_EQ(render("{% set ns = namespace(a=1) %}{% set ns.b = ns, a == 1 %}{{ ns.a }}{{ ns.b | length }}"), "12");
  EXPECT_EQ(render("{% set l = [1] %}{{ l.append(l) }}{{ l | length }}"), "None2");
  EXPECT_EQ(render("{% set l = [] %}{% set f = l.append %}{{ f(f) }}{{ l | length }}"), "None1");
  EXPECT_EQ(render("{% set ns = namespace() %}{% macro m() %}{{ ns.x }}{% endmacro %}{% set ns.x = 3 %}"
                   "{% set ns.f = m %}{{ ns.f() }}"),
            "3");
  EXPECT_EQ(render("{% set a = namespace() %}{% set b = namespace(a=a) %}{% set a.b = b %}{{ a.b.a.b is defined }}"),
            "True");
}

TEST(JinjaTest, ChatTemplateLoadAndRender) {
  char buf[] = "/tmp/sl_jinja_XXXXXX";
  ASSERT_NE(::mkdtemp(buf), nullptr);
  std::string dir = buf;
  auto missing = ChatTemplate::load(dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("chat_template.jinja"), std::string::npos);

  {
    std::ofstream(dir + "/tokenizer_config.json")
        << R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}{{ flag }}"}]})";
  }
  auto t = ChatTemplate::load(dir);
  ASSERT_TRUE(t.ok()) << t.status().message();
  nlohmann::json msgs = nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}});
  auto r = t->render(msgs, nullptr, true, {{"flag", "!"}}, "<s>", "</s>");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "<s>[user:hi]>!");

  { std::ofstream(dir + "/tokenizer_config.json") << R"({"chat_template": "{% if %}"})"; }
  auto bad = ChatTemplate::load(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tokenizer_config.json"), std::string::npos) << bad.status().message();

  { std::ofstream(dir + "/chat_template.jinja") << "{{ raise_exception('no') }}"; }
  auto j = ChatTemplate::load(dir);
  ASSERT_TRUE(j.ok()) << j.status().message();
  auto err = j->render(msgs, nullptr, false, nlohmann::json::object(), "", "");
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().message(), "no");

  std::remove((dir + "/chat_template.jinja").c_str());
  std::remove((dir + "/tokenizer_config.json").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
