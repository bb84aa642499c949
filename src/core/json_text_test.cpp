#include "core/json_text.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace streamer {
namespace {
namespace json = boost::json;

TEST(JsonText, NumbersLookLikeTheSeed) {
  EXPECT_EQ(to_json_text(json::value(45.5)), "45.5");
  EXPECT_EQ(to_json_text(json::value(100.0)), "100");
  EXPECT_EQ(to_json_text(json::value(0.234)), "0.234");
  EXPECT_EQ(to_json_text(json::value(120)), "120");
  EXPECT_EQ(to_json_text(json::value(std::numeric_limits<double>::quiet_NaN())), "null");
  EXPECT_EQ(to_json_text(json::value(std::numeric_limits<double>::infinity())), "null");
}

TEST(JsonText, RoundTripsThroughTheParser) {
  json::value v = json::parse(R"({"a":[1,-2,3.25,1e300,true,null],"s":"q\"\\\n\u0001é","o":{}})");
  EXPECT_EQ(json::parse(to_json_text(v)), v);
}

TEST(JsonText, FindsTheFirstNonFiniteNumberAndItsPath) {
  EXPECT_FALSE(find_non_finite_number(json::parse(R"({"a":[1,2.5,-3e300],"b":null})"), "payload"));
  json::object o;
  o["ok"] = 1.5;
  o["list"] = json::array{1, json::object{{"x.y", -std::numeric_limits<double>::infinity()}}};
  EXPECT_EQ(find_non_finite_number(o, "payload"), R"(payload.list[1]["x.y"])");
  EXPECT_EQ(find_non_finite_number(json::value(std::numeric_limits<double>::quiet_NaN()), "v"),
            "v");
  EXPECT_EQ(find_non_finite_number(json::array{1, std::numeric_limits<double>::infinity()}, ""),
            "[1]");
  EXPECT_EQ(
      find_non_finite_number(json::object{{"k", std::numeric_limits<double>::infinity()}}, ""),
      "k");
}

TEST(JsonText, EscapesControlCharacters) {
  EXPECT_EQ(to_json_text(json::value("a\x01"
                                     "b")),
            R"("a\u0001b")");
  EXPECT_EQ(to_json_text(json::value("tab\there")), R"("tab\there")");
}

}  // namespace
}  // namespace streamer
