#include "remote/json_schema.hpp"

#include <gtest/gtest.h>

namespace streamer::remote {
namespace {
namespace json = boost::json;

JsonSchema schema(std::string_view text) { return JsonSchema::compile(json::parse(text)); }

std::optional<SchemaViolation> check(std::string_view schema_text, std::string_view value) {
  return schema(schema_text).validate(json::parse(value));
}

TEST(JsonSchema, AcceptsConformingValues) {
  const char* s = R"({"type":"object","required":["w"],"additionalProperties":false,
    "properties":{"w":{"type":"integer","minimum":1,"maximum":10},
                  "name":{"type":"string","minLength":2,"maxLength":4,"pattern":"^[a-z]+$"},
                  "tags":{"type":"array","items":{"enum":["a","b"]},"minItems":1,"maxItems":2},
                  "kind":{"const":"x"},"ratio":{"type":"number","exclusiveMinimum":0,
                  "exclusiveMaximum":1}}})";
  EXPECT_FALSE(check(s, R"({"w":3})"));
  EXPECT_FALSE(check(s, R"({"w":3.0,"name":"abc","tags":["a","b"],"kind":"x","ratio":0.5})"));
}

TEST(JsonSchema, ReportsTheFirstViolationWithItsPath) {
  const char* s = R"({"type":"object","required":["w"],"additionalProperties":false,
    "properties":{"w":{"type":"integer","minimum":1},
                  "items":{"type":"array","items":{"type":"object","properties":{
                     "name":{"type":"string"}}}}}})";
  auto v = check(s, R"({})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->field, "w");
  EXPECT_EQ(v->expected, "present");
  v = check(s, R"({"w":0})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->field, "w");
  EXPECT_EQ(v->expected, ">= 1");
  EXPECT_EQ(v->received, json::value(0));
  v = check(s, R"({"w":1.5})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->expected, "integer");
  v = check(s, R"({"w":1,"items":[{"name":"a"},{"name":7}]})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->field, "items[1].name");
  EXPECT_EQ(v->expected, "string");
  v = check(s, R"({"w":1,"extra":true})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->field, "extra");
}

TEST(JsonSchema, StringArrayAndEnumBounds) {
  EXPECT_TRUE(check(R"({"minLength":3})", R"("ab")"));
  EXPECT_FALSE(check(R"({"minLength":3})", R"("héé")"));  // code points, not bytes
  EXPECT_TRUE(check(R"({"maxLength":1})", R"("ab")"));
  EXPECT_TRUE(check(R"({"pattern":"^a"})", R"("ba")"));
  EXPECT_FALSE(check(R"({"pattern":"a"})", R"("ba")"));  // search, not full match
  EXPECT_TRUE(check(R"({"maxItems":1})", R"([1,2])"));
  EXPECT_TRUE(check(R"({"enum":[1,"a"]})", R"(2)"));
  EXPECT_FALSE(check(R"({"enum":[1,"a"]})", R"(1.0)"));
  EXPECT_TRUE(check(R"({"const":{"a":1}})", R"({"a":2})"));
  EXPECT_TRUE(check(R"({"type":["string","null"]})", R"(1)"));
  EXPECT_FALSE(check(R"({"type":["string","null"]})", R"(null)"));
  EXPECT_TRUE(check(R"(false)", R"(1)"));
  EXPECT_FALSE(check(R"(true)", R"(1)"));
  EXPECT_TRUE(check(R"({"additionalProperties":{"type":"string"}})", R"({"a":1})"));
}

TEST(JsonSchema, LongInputToAPatternIsRefused) {
  SchemaLimits limits;
  limits.max_pattern_input = 8;
  auto s = JsonSchema::compile(json::parse(R"({"pattern":"a"})"), limits);
  EXPECT_TRUE(s.validate(json::value("aaaaaaaaa")));
  EXPECT_FALSE(s.validate(json::value("aaaa")));
}

TEST(JsonSchema, RefusesUnsupportedOrMalformedSchemas) {
  auto path_of = [](std::string_view text) {
    try {
      schema(text);
    } catch (const SchemaError& e) {
      return e.path();
    }
    return std::string("<compiled>");
  };
  EXPECT_EQ(path_of(R"({"oneOf":[]})"), "oneOf");
  EXPECT_EQ(path_of(R"({"properties":{"a":{"$ref":"#"}}})"), "properties.a.$ref");
  EXPECT_EQ(path_of(R"({"type":"int"})"), "type");
  EXPECT_EQ(path_of(R"({"minimum":"1"})"), "minimum");
  EXPECT_EQ(path_of(R"({"minLength":-1})"), "minLength");
  EXPECT_EQ(path_of(R"({"pattern":"("})"), "pattern");
  EXPECT_EQ(path_of(R"({"items":[{}]})"), "items");
  EXPECT_EQ(path_of(R"(3)"), "");
  EXPECT_EQ(path_of(R"({"title":"t","description":"d","$schema":"x"})"), "<compiled>");
  std::string deep = R"({"type":"object"})";
  for (int i = 0; i < 40; ++i) deep = R"({"items":)" + deep + "}";
  json::parse_options deep_parse;
  deep_parse.max_depth = 100;
  try {
    JsonSchema::compile(json::parse(deep, {}, deep_parse));
    ADD_FAILURE() << "compiled a schema nested 41 deep";
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.path().substr(0, 5), "items");
  }
}

}  // namespace
}  // namespace streamer::remote
