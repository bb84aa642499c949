#include "core/request_id_peek.hpp"

#include <gtest/gtest.h>

namespace streamer::protocol {
namespace {

TEST(PeekRequestId, ReadsTheTopLevelIdAsParseRequestDoes) {
  EXPECT_EQ(peek_request_id(R"({"id":"r-1","action":"health"})"), "r-1");
  EXPECT_EQ(peek_request_id(R"({"action":"echo","payload":{"id":"inner"},"id":"outer"})"), "outer");
  EXPECT_EQ(peek_request_id(R"({"id":42,"action":"health"})"), "42");
  EXPECT_EQ(peek_request_id(R"({"id":18446744073709551615})"), "18446744073709551615");
  EXPECT_EQ(peek_request_id(R"( { "id" : "a\"b" } )"), "a\"b");
}

TEST(PeekRequestId, NothingWhenThereIsNoUsableId) {
  EXPECT_EQ(peek_request_id(R"({"action":"health"})"), std::nullopt);
  EXPECT_EQ(peek_request_id(R"({"id":1.5})"), std::nullopt);
  EXPECT_EQ(peek_request_id(R"({"id":null})"), std::nullopt);
  EXPECT_EQ(peek_request_id(R"({"id":{"x":1}})"), std::nullopt);
  EXPECT_EQ(peek_request_id(R"({"id":["x"]})"), std::nullopt);
  EXPECT_EQ(peek_request_id(R"(["id","x"])"), std::nullopt);
  EXPECT_EQ(peek_request_id(R"("id")"), std::nullopt);
  EXPECT_EQ(peek_request_id("not json"), std::nullopt);
  EXPECT_EQ(peek_request_id(""), std::nullopt);
}

TEST(PeekRequestId, LooksOnlyAtThePrefix) {
  const std::string tail(1 << 20, ' ');
  EXPECT_EQ(peek_request_id(R"({"id":"early","payload":")" + tail),
            "early");  // the rest is never read
  const std::string late = R"({"payload":")" + std::string(600, 'x') + R"(","id":"late"})";
  EXPECT_EQ(peek_request_id(late), std::nullopt);
  EXPECT_EQ(peek_request_id(late, late.size()), "late");
  // An id cut by the end of the prefix is not guessed at.
  EXPECT_EQ(peek_request_id(R"({"id":"abcdef"})", 10), std::nullopt);
  EXPECT_EQ(peek_request_id(R"({"id":123456})", 9), std::nullopt);
}

}  // namespace
}  // namespace streamer::protocol
