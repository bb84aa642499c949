#include "call_command.hpp"

#include <gtest/gtest.h>

#include <sstream>

using streamer::app::CallMessageHandler;

namespace {
struct Fixture {
  std::ostringstream out, err;
  CallMessageHandler h;
  explicit Fixture(bool json = false, bool tty = false) : h("r1", json, tty, out, err) {}
};
}  // namespace

TEST(CallMessageHandler, SyncSuccessPrintsData) {
  Fixture f;
  auto r = f.h.on_message(
      R"({"type":"response","response":{"request_id":"r1","status":"success","data":{"status":"healthy"}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(f.out.str(), "{\"status\":\"healthy\"}\n");
}

TEST(CallMessageHandler, AsyncProgressThenResult) {
  Fixture f;
  EXPECT_FALSE(f.h.on_message(
      R"({"type":"response","response":{"request_id":"r1","status":"queued","estimated_duration":1}})"));
  EXPECT_FALSE(f.h.on_message(
      R"({"type":"progress","progress":{"request_id":"r1","progress":50,"message":"half"}})"));
  EXPECT_FALSE(f.h.on_message(
      R"({"type":"progress","progress":{"request_id":"other","progress":70,"message":"x"}})"));
  auto r = f.h.on_message(
      R"({"type":"result","result":{"request_id":"r1","success":true,"data":{"slept_ms":5}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0);
  EXPECT_EQ(f.out.str(), "{\"slept_ms\":5}\n");
  EXPECT_NE(f.err.str().find("progress 50.0% half"), std::string::npos);
  EXPECT_EQ(f.err.str().find("70.0"), std::string::npos);
}

TEST(CallMessageHandler, ErrorExitsTwoWithCode) {
  Fixture f;
  auto r = f.h.on_message(
      R"({"type":"error","error":{"request_id":"r1","code":"VALIDATION_ERROR","message":"bad","details":{"retryable":false}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2);
  EXPECT_NE(f.err.str().find("error: VALIDATION_ERROR: bad"), std::string::npos);
  EXPECT_TRUE(f.out.str().empty());
}

TEST(CallMessageHandler, ConnectionLevelErrorEndsCall) {
  Fixture f;
  auto r = f.h.on_message(
      R"({"type":"error","error":{"request_id":null,"code":"UNAUTHORIZED","message":"expired"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2);
  EXPECT_NE(f.err.str().find("UNAUTHORIZED"), std::string::npos);
}

TEST(CallMessageHandler, JsonLinesEchoesEveryMessage) {
  Fixture f(/*json=*/true);
  f.h.on_message(
      R"({"type":"progress","progress":{"request_id":"r1","progress":10,"message":"m"}})");
  auto r =
      f.h.on_message(R"({"type":"result","result":{"request_id":"r1","success":true,"data":{}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(
      f.out.str(),
      "{\"type\":\"progress\",\"progress\":{\"request_id\":\"r1\",\"progress\":10,\"message\":"
      "\"m\"}}\n"
      "{\"type\":\"result\",\"result\":{\"request_id\":\"r1\",\"success\":true,\"data\":{}}}\n");
  EXPECT_TRUE(f.err.str().empty());
}

TEST(CallMessageHandler, TtyBarIsOneLineEndedBeforeResult) {
  Fixture f(false, /*tty=*/true);
  f.h.on_message(
      R"({"type":"progress","progress":{"request_id":"r1","progress":50,"message":"half"}})");
  f.h.on_message(R"({"type":"result","result":{"request_id":"r1","success":true,"data":1}})");
  EXPECT_NE(f.err.str().find("\r\033[K[###############...............]  50.0%  half\n"),
            std::string::npos);
}

// The result's data prints numbers as the server writes them on the wire (shortest
// round-trip form), not in Boost.JSON's exponent form ("1.5E0").
TEST(CallMessageHandler, NumbersPrintInTheirShortestForm) {
  Fixture f;
  auto r = f.h.on_message(
      R"({"type":"response","response":{"request_id":"r1","status":"success","data":{"x":1.5,"n":100,"big":1e21,"tiny":0.000123,"neg":-2.25}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(f.out.str(), "{\"x\":1.5,\"n\":100,\"big\":1e+21,\"tiny\":0.000123,\"neg\":-2.25}\n");
}

TEST(CallMessageHandler, ErrorDetailsPrintNumbersInTheirShortestForm) {
  Fixture f;
  f.h.on_message(
      R"({"type":"error","error":{"request_id":"r1","code":"RATE_LIMITED","message":"slow down","details":{"retryable":true,"retry_after_ms":250,"ratio":0.5}}})");
  EXPECT_EQ(
      f.err.str(),
      "error: RATE_LIMITED: slow down {\"retryable\":true,\"retry_after_ms\":250,\"ratio\":0.5}\n");
}
