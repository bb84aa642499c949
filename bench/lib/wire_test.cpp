#include "lib/wire.hpp"

#include <gtest/gtest.h>

using bench::MsgKind;

TEST(Wire, BuildsRequests) {
  std::string out;
  bench::build_health(out, "a.1.", 42);
  EXPECT_EQ(out, R"({"id":"a.1.42","action":"health","payload":{}})");
  bench::build_delay(out, "x", 7, 0, 100);
  EXPECT_EQ(out, R"({"id":"x7","action":"delay","payload":{"duration_ms":0,"steps":100}})");
  bench::build_delay(out, "r.", 3, 0, 1, "bench_noop_py");
  EXPECT_EQ(out, R"({"id":"r.3","action":"bench_noop_py","payload":{"duration_ms":0,"steps":1}})");
}

TEST(Wire, ClassifiesSeedEnvelopes) {
  auto c = bench::classify(
      R"({"type":"response","response":{"request_id":"a.1.42","status":"success","data":{}}})");
  EXPECT_EQ(c.kind, MsgKind::success);
  EXPECT_TRUE(c.has_id);
  EXPECT_EQ(c.seq, 42u);
  c = bench::classify(R"({"type":"response","response":{"request_id":"9","status":"queued"}})");
  EXPECT_EQ(c.kind, MsgKind::queued);
  c = bench::classify(R"({"type":"progress","progress":{"request_id":"p3","progress":1}})");
  EXPECT_EQ(c.kind, MsgKind::progress);
  EXPECT_EQ(c.seq, 3u);
  c = bench::classify(R"({"type":"result","result":{"request_id":"r5","success":true}})");
  EXPECT_EQ(c.kind, MsgKind::result);
  const auto err =
      R"({"type":"error","error":{"request_id":null,"code":"RATE_LIMITED","message":"x"}})";
  c = bench::classify(err);
  EXPECT_EQ(c.kind, MsgKind::error);
  EXPECT_FALSE(c.has_id);
  EXPECT_EQ(bench::error_code(err), "RATE_LIMITED");
}

TEST(Wire, ClassifiesEcho) {
  const auto c = bench::classify(R"({"id":"a.1.42","action":"health","payload":{}})");
  EXPECT_EQ(c.kind, MsgKind::echo);
  EXPECT_EQ(c.seq, 42u);
}
