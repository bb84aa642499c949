#include "handlers/admin/admin_payload.hpp"

#include <gtest/gtest.h>

namespace streamer::admin {
namespace {
namespace json = boost::json;

const Identity kUser{"u1", "t1", {"read"}};
const Identity kAdmin{"root", "ops", {"admin"}};

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

// The details of the VALIDATION_ERROR `fn` throws.
template <class Fn>
json::object validation_details(Fn fn) {
  try {
    fn();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kValidationError);
    return e.details();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(AdminPayload, TargetKeyDefaultsToTheCallerAndHidesOtherTenants) {
  auto key = target_key(obj(R"({"request_id":"r1"})"), kUser);
  EXPECT_EQ(key, (JobKey{"t1", "u1", "r1"}));
  try {
    target_key(obj(R"({"request_id":"r1","tenant_id":"t2"})"), kUser);
    FAIL();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);  // the same answer as an unknown id
  }
  EXPECT_EQ(target_key(obj(R"({"request_id":"r1","tenant_id":"t2","user_id":"x"})"), kAdmin),
            (JobKey{"t2", "x", "r1"}));
  auto d = validation_details([] { target_key(obj(R"({"request_id":7})"), kUser); });
  EXPECT_EQ(d["field"], "request_id");
  EXPECT_EQ(d["received"], "7");
}

TEST(AdminPayload, ListScopeIsTheCallersOwnUnlessAdmin) {
  auto own = list_query(obj("{}"), kUser);
  EXPECT_EQ(own.scope.tenant_id, "t1");
  EXPECT_EQ(own.scope.user_id, "u1");
  EXPECT_EQ(own.limit, kDefaultPageSize);
  try {
    list_query(obj(R"({"tenant_id":"t2"})"), kUser);
    FAIL();
  } catch (const HandlerError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnauthorized);
  }
  auto all = list_query(obj("{}"), kAdmin);
  EXPECT_FALSE(all.scope.tenant_id);
  EXPECT_FALSE(all.scope.user_id);
  auto one = list_query(obj(R"({"tenant_id":"t2"})"), kAdmin);
  EXPECT_EQ(one.scope.tenant_id, "t2");
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"user_id":"x"})"), kAdmin); })["field"],
            "tenant_id");
}

TEST(AdminPayload, ListFiltersAreCheckedField_by_field) {
  auto q = list_query(obj(R"({"state":["failed","queued"],"action":"delay","limit":200,
                              "since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00.5Z"})"),
                      kUser);
  EXPECT_EQ(q.states, (std::vector<JobStatus>{JobStatus::kFailed, JobStatus::kQueued}));
  EXPECT_EQ(q.limit, 200u);
  EXPECT_EQ(*q.created_before - *q.created_since, std::chrono::milliseconds(86'400'500));
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"limit":0})"), kUser); })["field"], "limit");
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"limit":201})"), kUser); })["field"],
            "limit");
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"limit":2.5})"), kUser); })["field"],
            "limit");
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"state":"done"})"), kUser); })["field"],
            "state");
  EXPECT_EQ(
      validation_details([] { list_query(obj(R"({"state":["failed",1]})"), kUser); })["field"],
      "state[1]");
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"since":"yesterday"})"), kUser); })["field"],
            "since");
  EXPECT_EQ(validation_details([] {
              list_query(obj(R"({"since":"2026-01-02T00:00:00Z","until":"2026-01-01T00:00:00Z"})"),
                         kUser);
            })["field"],
            "until");
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"cursor":"!!"})"), kUser); })["field"],
            "cursor");
  EXPECT_EQ(validation_details([] { list_query(obj(R"({"action":""})"), kUser); })["field"],
            "action");
}

TEST(AdminPayload, TimestampsParseStrictly) {
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:01Z")->time_since_epoch(), std::chrono::seconds(1));
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:01.25Z")->time_since_epoch(),
            std::chrono::milliseconds(1250));
  EXPECT_FALSE(parse_timestamp("1970-01-01 00:00:01Z"));
  EXPECT_FALSE(parse_timestamp("1970-01-01T00:00:01"));
  EXPECT_FALSE(parse_timestamp("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2026-01-01T00:00:00.Z"));
}

TEST(AdminPayload, CursorRoundTripsAndRefusesForgeries) {
  JobRecord last;
  last.job_id = "42";
  last.created_at = SystemTime(std::chrono::milliseconds(1764542401123));
  auto after = decode_cursor(encode_cursor(last));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->job_id, "42");
  EXPECT_EQ(after->created_at, last.created_at);
  EXPECT_FALSE(decode_cursor("bm90IGEgY3Vyc29y"));  // "not a cursor"
  EXPECT_FALSE(decode_cursor("x"));
}

}  // namespace
}  // namespace streamer::admin
