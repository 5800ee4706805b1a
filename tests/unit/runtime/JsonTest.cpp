#include "runtime/io/Json.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace sl::io {
namespace {

TEST(JsonTest, ParsesValuesAndKeepsKeyOrder) {
  auto value = parseOrderedJson(R"({"b": 1, "a": [true, null, 2.5, "x", -3], "c": {"z": 1, "y": 2}})");
  ASSERT_TRUE(value.ok()) << value.status().message();
  EXPECT_EQ(value->dump(), R"({"b":1,"a":[true,null,2.5,"x",-3],"c":{"z":1,"y":2}})");
  auto plain = parseJson(R"({"b": 1, "a": 18446744073709551615})");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)["a"].get<uint64_t>(), UINT64_MAX);
}

TEST(JsonTest, SyntaxErrorsNameThePlace) {
  auto value = parseJson("{\"a\": [1, 2,]}", {}, "request body");
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.status().message().find("request body: parse error at line 1, column 13"),
            std::string::npos)
      << value.status().message();
  EXPECT_FALSE(parseJson("").ok());
  EXPECT_FALSE(parseJson("{} {}").ok());
}

TEST(JsonTest, DepthLimitStopsDeepNesting) {
  JsonLimits limits;
  limits.maxDepth = 3;
  EXPECT_TRUE(parseJson("[[[1]]]", limits).ok());
  auto deep = parseOrderedJson(R"({"a": [{"b": 1}]})", limits);
  EXPECT_TRUE(deep.ok());
  auto tooDeep = parseOrderedJson(R"({"a": [{"b": [1]}]})", limits);
  ASSERT_FALSE(tooDeep.ok());
  EXPECT_EQ(tooDeep.status().message(), "JSON: nesting deeper than 3 levels at $.a[0].b");
  // A million levels: rejected at the limit, no recursion anywhere.
  std::string hostile(1 << 20, '[');
  auto rejected = parseJson(hostile);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.status().message().find("nesting deeper than 64 levels"), std::string::npos);
}

TEST(JsonTest, KeyLimitAndDuplicates) {
  JsonLimits limits;
  limits.maxKeysPerObject = 2;
  EXPECT_TRUE(parseOrderedJson(R"({"a": 1, "b": {"c": 1, "d": 2}})", limits).ok());
  auto many = parseOrderedJson(R"({"a": 1, "b": {"c": 1, "d": 2, "e": 3}})", limits);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().message(), "JSON: an object has more than 2 keys at $.b.e");
  auto duplicate = parseOrderedJson(R"({"a": 1, "a": 2})");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().message(), "JSON: duplicate key 'a' at $.a");
  JsonLimits lastWins;
  lastWins.rejectDuplicateKeys = false;
  auto kept = parseOrderedJson(R"({"a": 1, "b": 0, "a": 2})", lastWins);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->dump(), R"({"a":2,"b":0})");
  auto keptMap = parseJson(R"({"a": 1, "a": 2})", lastWins);
  ASSERT_TRUE(keptMap.ok());
  EXPECT_EQ(keptMap->dump(), R"({"a":2})");
}

TEST(JsonTest, ManyKeysParseInLinearTime) {
  // 200k distinct keys in one ordered object: nlohmann's ordered parse is quadratic here.
  std::string text = "{";
  for (int i = 0; i < 200000; ++i)
    text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  text += "}";
  auto start = std::chrono::steady_clock::now();
  auto value = parseOrderedJson(text);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->size(), 200000u);
  EXPECT_LT(seconds, 2.0);
}

}  // namespace
}  // namespace sl::io
