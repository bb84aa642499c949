#include "service/metrics.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

TEST(Metrics, RendersCountersHistogramsAndLimits) {
  Metrics m;
  m.connections_open = 3;
  m.record_request("health", "success", 0.0002);
  m.record_request("health", "success", 0.003);
  m.record_request("health", "TIMEOUT", 7.0);
  m.record_rate_limited("messages_per_second");
  std::string text = m.render();
  EXPECT_NE(text.find("streamer_connections_open 3\n"), std::string::npos);
  EXPECT_NE(text.find("streamer_requests_total{action=\"health\",outcome=\"success\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("streamer_requests_total{action=\"health\",outcome=\"TIMEOUT\"} 1\n"),
            std::string::npos);
  // cumulative buckets: 0.00025 holds the first, 0.005 the first two, +Inf all three
  EXPECT_NE(text.find("le=\"0.00025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("le=\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("le=\"5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("streamer_request_duration_seconds_count{action=\"health\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("streamer_rate_limited_total{limit=\"messages_per_second\"} 1\n"),
            std::string::npos);
}

TEST(Metrics, UnknownOutcomesAreCountedAsOther) {
  Metrics m;
  m.record_request("x", "WEIRD", 0.1);
  EXPECT_NE(m.render().find("outcome=\"other\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace streamer
