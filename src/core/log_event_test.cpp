#include "core/log_event.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace streamer {
namespace {
namespace json = boost::json;

TEST(LogEvent, EventComesFirstThenTheFieldsInTheOrderGiven) {
  EXPECT_EQ(log_event_text("job_retry", {{"job", "j1"}, {"attempt", 2}, {"delay_ms", 15}}),
            R"({"event":"job_retry","job":"j1","attempt":2,"delay_ms":15})");
  EXPECT_EQ(log_event_text("stopped"), R"({"event":"stopped"})");
}

TEST(LogEvent, TextThatWouldBreakAHandQuotedLineIsEscaped) {
  // Quotes, a backslash, a newline and a control character in an error text; a
  // request id that tries to close the object and add a field of its own.
  const std::string error = "bad \"value\" at C:\\tmp\nnext line \x01";
  const std::string request_id = R"(x","admin":true,"y":")";
  const std::string text =
      log_event_text("store_error", {{"error", error}, {"request_id", request_id}});
  const json::value line = json::parse(text);
  EXPECT_EQ(line.at("error").as_string(), error);
  EXPECT_EQ(line.at("request_id").as_string(), request_id);
  EXPECT_EQ(line.as_object().size(), 3u);         // no field was injected
  EXPECT_EQ(text.find('\n'), std::string::npos);  // one line stays one line
}

TEST(LogEvent, NumbersAndBooleansKeepTheirJsonTypes) {
  const json::value line =
      json::parse(log_event_text("listening", {{"port", 8080}, {"tls", false}, {"took_ms", 1.5}}));
  EXPECT_EQ(line.at("port").as_int64(), 8080);
  EXPECT_FALSE(line.at("tls").as_bool());
  EXPECT_EQ(line.at("took_ms").as_double(), 1.5);
}

TEST(LogEvent, AFieldNamedEventCannotReplaceTheEventName) {
  EXPECT_EQ(log_event_text("stopped", {{"event", "other"}, {"code", 1}}),
            R"({"event":"stopped","code":1})");
}

}  // namespace
}  // namespace streamer
