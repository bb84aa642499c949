// Sans-IO protocol core: parses client requests and builds the seed's exact
// envelopes. No sockets, no clocks except the ones passed in; cheap to unit-test and
// to fuzz (see protocol_fuzz.cpp).
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/error_code.hpp"
#include "core/handler.hpp"

namespace streamer::protocol {

// A well-formed request: {id, action, payload, metadata}.
struct Request {
  std::string id;
  std::string action;
  boost::json::object payload;
  boost::json::object metadata;
  std::string trace_id;  // metadata.trace_id when it is a string, else ""
};

// Why a frame could not be turned into a Request. request_id is the frame's id when
// one could be read, so the error can still be correlated.
struct RequestError {
  std::optional<std::string> request_id;
  ErrorCode code = ErrorCode::kValidationError;
  std::string message;
  boost::json::object details;
};

// Parses one text frame. Never throws; depth and size are bounded by the parser's
// options, so hostile input costs at most O(frame size). A number anywhere in the
// frame that does not fit a double (1e400, -1e400, 0e400) is a VALIDATION_ERROR whose
// details.field is its JSON path (`payload.a[2]`): no number reaches a handler changed.
std::variant<Request, RequestError> parse_request(std::string_view frame);

// --- outgoing envelopes (serialized JSON text) ------------------------------------

// {"type":"response","response":{"request_id","status":"success","data","metadata":{"processing_time"}}}
std::string success_response(std::string_view request_id, boost::json::value data,
                             double processing_time_s);

// {"type":"response","response":{"request_id","status":"queued","message","estimated_duration"}}
std::string queued_response(std::string_view request_id, double estimated_duration_s,
                            std::string_view message = "Request queued for processing");

// Body of a `progress` message (persisted as the job's latest progress).
boost::json::object progress_body(std::string_view request_id, double percent,
                                  std::string_view message, const boost::json::object& metadata,
                                  std::chrono::system_clock::time_point at);
// {"type":"progress","progress": body}
std::string progress_message(const boost::json::object& body);

// {"type":"result","result":{"request_id","success","data","metadata"}}
std::string result_message(std::string_view request_id, bool success,
                           const boost::json::value& data, const boost::json::object& metadata);

// {"type":"error","error":{"request_id"|null,"code","message","details"}}; details gets
// `retryable` added (from the code's default unless given).
std::string error_message(const std::optional<std::string>& request_id, ErrorCode code,
                          std::string_view message, boost::json::object details = {},
                          std::optional<bool> retryable = std::nullopt);
std::string error_message(const std::optional<std::string>& request_id, const HandlerError& error);
std::string error_message(const RequestError& error);

// RATE_LIMITED with details.limit (what was exceeded) and details.retry_after_ms.
std::string rate_limited_message(const std::optional<std::string>& request_id,
                                 std::string_view limit, std::int64_t limit_value,
                                 std::int64_t retry_after_ms);

}  // namespace streamer::protocol
