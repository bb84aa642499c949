// Fuzzes the request envelope parser (core/protocol parse_request) with text frames.
//
// Invariants:
//  - a parsed request has an id of 1..256 bytes, a non-empty action and a trace id of
//    at most 128 bytes;
//  - a parsed request holds only finite numbers (JSON has no infinity: a number that
//    overflows a double must be refused, not turned into inf);
//  - a parsed request round-trips: serialized back as {id, action, payload, metadata}
//    and parsed again, it gives the same id, action, payload and metadata (doubles up
//    to a few ULPs, see nearly_equal);
//  - a refusal is always an error envelope that is valid JSON, carries the frame's
//    request id (or null) and VALIDATION_ERROR.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <variant>

#include "core/protocol.hpp"
#include "fuzz_check.hpp"

namespace json = boost::json;
using namespace streamer;

namespace {

bool all_finite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return std::isfinite(v.get_double());
    case json::kind::array:
      for (const auto& item : v.get_array())
        if (!all_finite(item)) return false;
      return true;
    case json::kind::object:
      for (const auto& member : v.get_object())
        if (!all_finite(member.value())) return false;
      return true;
    default:
      return true;
  }
}

// Equality of JSON values, doubles up to a few ULPs: Boost.JSON 1.81 parses some
// decimal texts one ULP away from the nearest double, so a number written and read
// back may move by that much.
bool nearly_equal(const json::value& a, const json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 4 * std::numeric_limits<double>::epsilon() *
                                             std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!nearly_equal(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& member : x) {
      const json::value* other = y.if_contains(member.key());
      if (!other || !nearly_equal(member.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  auto parsed = protocol::parse_request(frame);

  if (auto* req = std::get_if<protocol::Request>(&parsed)) {
    FUZZ_CHECK(!req->id.empty() && req->id.size() <= 256, "request id outside 1..256 bytes");
    FUZZ_CHECK(!req->action.empty(), "empty action accepted");
    FUZZ_CHECK(req->trace_id.size() <= 128, "trace id longer than 128 bytes");
    FUZZ_CHECK(all_finite(req->payload) && all_finite(req->metadata),
               "a number overflowed to infinity");

    const std::string again = json::serialize(json::object{{"id", req->id},
                                                           {"action", req->action},
                                                           {"payload", req->payload},
                                                           {"metadata", req->metadata}});
    auto reparsed = protocol::parse_request(again);
    auto* req2 = std::get_if<protocol::Request>(&reparsed);
    FUZZ_CHECK(req2 != nullptr, "a serialized request no longer parses");
    FUZZ_CHECK(req2->id == req->id, "request id does not round-trip");
    FUZZ_CHECK(req2->action == req->action, "action does not round-trip");
    FUZZ_CHECK(nearly_equal(req2->payload, req->payload), "payload does not round-trip");
    FUZZ_CHECK(nearly_equal(req2->metadata, req->metadata), "metadata does not round-trip");
    FUZZ_CHECK(req2->trace_id == req->trace_id, "trace id does not round-trip");
    return 0;
  }

  const auto& err = std::get<protocol::RequestError>(parsed);
  FUZZ_CHECK(err.code == ErrorCode::kValidationError, "a refused frame is not VALIDATION_ERROR");
  json::error_code ec;
  const json::value envelope = json::parse(protocol::error_message(err), ec);
  FUZZ_CHECK(!ec && envelope.is_object(), "the error envelope is not a JSON object");
  const json::value* body = envelope.get_object().if_contains("error");
  FUZZ_CHECK(body && body->is_object(), "the error envelope has no error object");
  const json::value* rid = body->get_object().if_contains("request_id");
  FUZZ_CHECK(rid != nullptr, "the error envelope has no request_id");
  if (err.request_id) {
    FUZZ_CHECK(rid->is_string() && rid->get_string() == *err.request_id,
               "error request_id mismatch");
  } else {
    FUZZ_CHECK(rid->is_null(), "error request_id is not null");
  }
  return 0;
}
