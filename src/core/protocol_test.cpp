#include "core/protocol.hpp"

#include <gtest/gtest.h>

#include "core/json_text.hpp"

namespace streamer::protocol {
namespace {
namespace json = boost::json;

RequestError expect_error(std::string_view frame) {
  auto r = parse_request(frame);
  EXPECT_TRUE(std::holds_alternative<RequestError>(r)) << frame;
  return std::holds_alternative<RequestError>(r) ? std::get<RequestError>(r) : RequestError{};
}

TEST(ParseRequest, AcceptsFullRequest) {
  auto r = parse_request(
      R"({"id":"r1","action":"health","payload":{"a":1},"metadata":{"trace_id":"xyz"}})");
  ASSERT_TRUE(std::holds_alternative<Request>(r));
  const auto& req = std::get<Request>(r);
  EXPECT_EQ(req.id, "r1");
  EXPECT_EQ(req.action, "health");
  EXPECT_EQ(req.payload.at("a").as_int64(), 1);
  EXPECT_EQ(req.trace_id, "xyz");
}

TEST(ParseRequest, PayloadDefaultsToEmptyAndNumericIdBecomesString) {
  auto r = parse_request(R"({"id":42,"action":"health"})");
  ASSERT_TRUE(std::holds_alternative<Request>(r));
  EXPECT_EQ(std::get<Request>(r).id, "42");
  EXPECT_TRUE(std::get<Request>(r).payload.empty());
}

TEST(ParseRequest, MalformedJsonHasNullId) {
  auto e = expect_error("{\"id\":\"1\",");
  EXPECT_EQ(e.code, ErrorCode::kValidationError);
  EXPECT_FALSE(e.request_id.has_value());
  EXPECT_EQ(e.message, "Malformed JSON");
}

TEST(ParseRequest, NonObjectIsRejected) {
  auto e = expect_error("[1,2]");
  EXPECT_EQ(e.details.at("received").as_string(), "array");
  EXPECT_EQ(e.details.at("expected").as_string(), "object");
}

TEST(ParseRequest, MissingActionKeepsId) {
  auto e = expect_error(R"({"id":"x"})");
  ASSERT_TRUE(e.request_id);
  EXPECT_EQ(*e.request_id, "x");
  EXPECT_EQ(e.details.at("field").as_string(), "action");
  EXPECT_EQ(e.details.at("received").as_string(), "missing");
}

TEST(ParseRequest, NonStringActionAndNonObjectPayload) {
  EXPECT_EQ(expect_error(R"({"id":"x","action":5})").details.at("received").as_string(), "number");
  auto e = expect_error(R"({"id":"x","action":"echo","payload":"hi"})");
  EXPECT_EQ(e.details.at("field").as_string(), "payload");
  EXPECT_EQ(e.details.at("received").as_string(), "string");
}

TEST(ParseRequest, MissingOrBadIdIsNull) {
  EXPECT_FALSE(expect_error(R"({"action":"health"})").request_id);
  EXPECT_FALSE(expect_error(R"({"id":{},"action":"health"})").request_id);
  EXPECT_FALSE(expect_error(R"({"id":"","action":"health"})").request_id);
}

TEST(ParseRequest, DeepNestingIsRejectedNotCrashing) {
  std::string deep(100000, '[');
  auto e = expect_error(deep);
  EXPECT_EQ(e.message, "Malformed JSON");
}

TEST(ParseRequest, NumbersBeyondTheDoubleRangeAreRefusedWithTheirPath) {
  struct Case {
    const char* frame;
    const char* field;
  };
  for (auto [frame, field] : {
           Case{R"({"id":"n1","action":"echo","payload":{"x":1e400}})", "payload.x"},
           Case{R"({"id":"n1","action":"echo","payload":{"x":-1e400}})", "payload.x"},
           Case{R"({"id":"n1","action":"echo","payload":{"a":[1,{"b c":[2,1.8e308]}]}})",
                R"(payload.a[1]["b c"][1])"},
           Case{R"({"id":"n1","action":"echo","payload":{"z":0e400}})",
                "payload.z"},  // NaN from the parser
           Case{R"({"id":"n1","action":"echo","metadata":{"n":1e999}})", "metadata.n"},
       }) {
    auto e = expect_error(frame);
    EXPECT_EQ(e.code, ErrorCode::kValidationError) << frame;
    ASSERT_TRUE(e.request_id) << frame;
    EXPECT_EQ(*e.request_id, "n1");
    EXPECT_EQ(e.details.at("field").as_string(), field) << frame;
  }
  // A 400-digit integer overflows to infinity too.
  auto e = expect_error(R"({"id":"n2","action":"echo","payload":{"big":1)" + std::string(400, '0') +
                        "}}");
  EXPECT_EQ(e.details.at("field").as_string(), "payload.big");
}

TEST(ParseRequest, HugeButFiniteNumbersAndBigIntegersPass) {
  auto r = parse_request(
      R"({"id":"n3","action":"echo","payload":{"max":1.7976931348623157e308,"big":18446744073709551616,)"
      R"("u":18446744073709551615,"tiny":1e-400}})");
  ASSERT_TRUE(std::holds_alternative<Request>(r));
  const auto& p = std::get<Request>(r).payload;
  EXPECT_DOUBLE_EQ(p.at("max").as_double(), 1.7976931348623157e308);
  EXPECT_DOUBLE_EQ(p.at("big").as_double(), 18446744073709551616.0);  // beyond uint64: a double
  EXPECT_EQ(p.at("u").as_uint64(), 18446744073709551615ULL);
  EXPECT_EQ(p.at("tiny").as_double(), 0.0);  // rounds to the nearest double, like any decimal
}

TEST(Envelopes, SuccessResponseMatchesSeed) {
  auto v = json::parse(success_response("r1", json::object{{"status", "healthy"}}, 0.25));
  EXPECT_EQ(v.at("type").as_string(), "response");
  const auto& body = v.at("response").as_object();
  EXPECT_EQ(body.at("request_id").as_string(), "r1");
  EXPECT_EQ(body.at("status").as_string(), "success");
  EXPECT_EQ(body.at("data").at("status").as_string(), "healthy");
  EXPECT_DOUBLE_EQ(body.at("metadata").at("processing_time").as_double(), 0.25);
  EXPECT_EQ(body.size(), 4u);
}

// The envelopes written as text are byte for byte what serializing the same objects
// gives (field order and number forms included), escaping in ids too.
TEST(Envelopes, TextEnvelopesEqualTheSerializedObjects) {
  const json::object data{{"status", "healthy"}, {"n", 3}, {"x", 0.5}, {"s", "a\"b\n"}};
  const json::object success{
      {"type", "response"},
      {"response", json::object{{"request_id", "r\"1"},
                                {"status", "success"},
                                {"data", data},
                                {"metadata", json::object{{"processing_time", 0.000123}}}}}};
  EXPECT_EQ(success_response("r\"1", data, 0.000123), to_json_text(json::value(success)));
  const json::object queued{{"type", "response"},
                            {"response", json::object{{"request_id", "q"},
                                                      {"status", "queued"},
                                                      {"message", "Request queued for processing"},
                                                      {"estimated_duration", 1.5}}}};
  EXPECT_EQ(queued_response("q", 1.5), to_json_text(json::value(queued)));
  EXPECT_EQ(to_json_text(data), to_json_text(json::value(data)));
}

TEST(Envelopes, QueuedResponseMatchesSeed) {
  auto v = json::parse(queued_response("r2", 120));
  const auto& body = v.at("response").as_object();
  EXPECT_EQ(body.at("status").as_string(), "queued");
  EXPECT_EQ(body.at("message").as_string(), "Request queued for processing");
  EXPECT_DOUBLE_EQ(body.at("estimated_duration").to_number<double>(), 120.0);
}

TEST(Envelopes, ProgressResultAndError) {
  auto body = progress_body("r3", 45.5, "Processing batch 3/7", json::object{{"current_step", "x"}},
                            std::chrono::system_clock::from_time_t(1705746645));
  auto p = json::parse(progress_message(body));
  EXPECT_EQ(p.at("type").as_string(), "progress");
  EXPECT_EQ(p.at("progress").at("timestamp").as_string(), "2024-01-20T10:30:45Z");
  EXPECT_DOUBLE_EQ(p.at("progress").at("progress").as_double(), 45.5);

  auto r =
      json::parse(result_message("r3", true, json::object{}, json::object{{"handler", "delay"}}));
  EXPECT_EQ(r.at("type").as_string(), "result");
  EXPECT_TRUE(r.at("result").at("success").as_bool());
  EXPECT_EQ(r.at("result").at("metadata").at("handler").as_string(), "delay");

  auto e = json::parse(error_message(std::nullopt, ErrorCode::kTimeout, "slow"));
  EXPECT_TRUE(e.at("error").at("request_id").is_null());
  EXPECT_EQ(e.at("error").at("code").as_string(), "TIMEOUT");
  EXPECT_TRUE(e.at("error").at("details").at("retryable").as_bool());
}

TEST(Envelopes, ValidationErrorKeepsSeedDetails) {
  auto err = HandlerError::validation("start_date", "YYYY-MM-DD", json::value("01/20/2024"),
                                      "Invalid date format");
  auto e = json::parse(error_message(std::string("r4"), err));
  const auto& d = e.at("error").at("details");
  EXPECT_EQ(d.at("field").as_string(), "start_date");
  EXPECT_EQ(d.at("expected").as_string(), "YYYY-MM-DD");
  EXPECT_EQ(d.at("received").as_string(), "01/20/2024");
  EXPECT_FALSE(d.at("retryable").as_bool());
  EXPECT_EQ(e.at("error").at("message").as_string(), "Invalid date format");
}

TEST(Envelopes, RateLimitedCarriesLimitAndRetryAfter) {
  auto e = json::parse(rate_limited_message(std::string("r5"), "messages_per_second", 100, 250));
  EXPECT_EQ(e.at("error").at("code").as_string(), "RATE_LIMITED");
  EXPECT_EQ(e.at("error").at("details").at("limit").as_string(), "messages_per_second");
  EXPECT_EQ(e.at("error").at("details").at("retry_after_ms").as_int64(), 250);
}

}  // namespace
}  // namespace streamer::protocol

namespace streamer::protocol {
namespace {

TEST(Protocol, TraceparentGivesTheTraceIdWhenNoTraceIdIsSent) {
  auto parsed = parse_request(
      R"({"id":"1","action":"a","metadata":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})");
  EXPECT_EQ(std::get<Request>(parsed).trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  auto bad = parse_request(R"({"id":"1","action":"a","metadata":{"traceparent":"00-XYZ-1-01"}})");
  EXPECT_EQ(std::get<Request>(bad).trace_id, "");
  auto both = parse_request(
      R"({"id":"1","action":"a","metadata":{"trace_id":"mine","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})");
  EXPECT_EQ(std::get<Request>(both).trace_id, "mine");
}

}  // namespace
}  // namespace streamer::protocol
