#include "core/protocol.hpp"

#include <algorithm>

#include "core/json_text.hpp"
#include "core/time_util.hpp"

namespace streamer::protocol {
namespace json = boost::json;

namespace {

// The trace id of a W3C `traceparent` ("00-<32 hex>-<16 hex>-<2 hex>"), or "" when it
// is not one (or its trace id is all zeros).
std::string trace_id_of_traceparent(std::string_view tp) {
  auto hex = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return {};
  const auto id = tp.substr(3, 32);
  if (!hex(tp.substr(0, 2)) || !hex(id) || !hex(tp.substr(36, 16)) || !hex(tp.substr(53, 2)))
    return {};
  if (id == std::string_view("00000000000000000000000000000000")) return {};
  return std::string(id);
}

// {"type":"<type>","<type>":<body>}, written straight from `body`.
std::string envelope(std::string_view type, const json::object& body) {
  std::string out;
  out.reserve(256);
  out += R"({"type":)";
  append_json_string(out, type);
  out += ',';
  append_json_string(out, type);
  out += ':';
  append_json_text(out, body);
  out += '}';
  return out;
}

// Reads a request id: strings as they are, integers as decimal text.
std::optional<std::string> read_id(const json::object& obj) {
  auto it = obj.find("id");
  if (it == obj.end()) return std::nullopt;
  const json::value& v = it->value();
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  return std::nullopt;
}

std::string_view kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "unknown";
}

RequestError invalid(std::optional<std::string> id, std::string message, std::string_view field,
                     std::string_view expected, std::string_view received) {
  RequestError e;
  e.request_id = std::move(id);
  e.message = std::move(message);
  e.details["field"] = field;
  e.details["expected"] = expected;
  e.details["received"] = received;
  return e;
}

}  // namespace

std::variant<Request, RequestError> parse_request(std::string_view frame) {
  json::parse_options opts;
  opts.max_depth = 64;
  std::error_code ec;
  json::value root = json::parse(frame, ec, {}, opts);
  if (ec) {
    RequestError e;
    e.message = "Malformed JSON";
    e.details["expected"] = "a JSON object";
    e.details["error"] = ec.message();
    return e;
  }
  if (!root.is_object()) {
    return invalid(std::nullopt, "Request must be a JSON object", "", "object", kind_of(root));
  }
  json::object& obj = root.get_object();
  std::optional<std::string> id = read_id(obj);

  auto id_it = obj.find("id");
  if (id_it == obj.end())
    return invalid(std::nullopt, "Missing request id", "id", "string", "missing");
  if (!id)
    return invalid(std::nullopt, "Request id must be a string", "id", "string",
                   kind_of(id_it->value()));
  if (id->empty() || id->size() > 256) {
    return invalid(std::nullopt, "Request id must be 1 to 256 characters", "id",
                   "string of 1-256 characters", id->empty() ? "empty string" : "longer string");
  }

  // Every action gets numbers as the client wrote them or not at all: a number the
  // parser turned into ±infinity or NaN (see find_non_finite_number) is refused here.
  if (auto path = find_non_finite_number(root, "")) {
    return invalid(
        id, "Number out of range: numbers must be finite and within ±1.7976931348623157e308", *path,
        "a finite number within ±1.7976931348623157e308", "a number beyond the range of a double");
  }

  auto action_it = obj.find("action");
  if (action_it == obj.end()) return invalid(id, "Missing action", "action", "string", "missing");
  if (!action_it->value().is_string()) {
    return invalid(id, "Action must be a string", "action", "string", kind_of(action_it->value()));
  }

  Request req;
  req.id = std::move(*id);
  req.action = std::string(action_it->value().get_string());
  if (req.action.empty())
    return invalid(req.id, "Action must not be empty", "action", "handler name", "empty string");

  if (auto it = obj.find("payload"); it != obj.end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return invalid(req.id, "Payload must be an object", "payload", "object",
                     kind_of(it->value()));
    }
    req.payload = std::move(it->value().get_object());
  }
  if (auto it = obj.find("metadata"); it != obj.end() && !it->value().is_null()) {
    if (!it->value().is_object()) {
      return invalid(req.id, "Metadata must be an object", "metadata", "object",
                     kind_of(it->value()));
    }
    req.metadata = std::move(it->value().get_object());
    if (auto t = req.metadata.find("trace_id"); t != req.metadata.end() && t->value().is_string()) {
      req.trace_id = std::string(t->value().get_string().subview(
          0, std::min<std::size_t>(128, t->value().get_string().size())));
    } else if (auto tp = req.metadata.find("traceparent");
               tp != req.metadata.end() && tp->value().is_string()) {
      req.trace_id = trace_id_of_traceparent(tp->value().get_string());
    }
  }
  return req;
}

std::string success_response(std::string_view request_id, json::value data,
                             double processing_time_s) {
  // The envelope's own fields are written as text: only `data` is a JSON value.
  std::string out;
  out.reserve(160);
  out += R"({"type":"response","response":{"request_id":)";
  append_json_string(out, request_id);
  out += R"(,"status":"success","data":)";
  append_json_text(out, data);
  out += R"(,"metadata":{"processing_time":)";
  append_json_text(out, json::value(processing_time_s));
  out += "}}}";
  return out;
}

std::string queued_response(std::string_view request_id, double estimated_duration_s,
                            std::string_view message) {
  json::object body;
  body["request_id"] = request_id;
  body["status"] = "queued";
  body["message"] = message;
  body["estimated_duration"] = estimated_duration_s;
  return envelope("response", body);
}

json::object progress_body(std::string_view request_id, double percent, std::string_view message,
                           const json::object& metadata, std::chrono::system_clock::time_point at) {
  json::object body;
  body["request_id"] = request_id;
  body["progress"] = percent;
  body["message"] = message;
  body["metadata"] = metadata;
  body["timestamp"] = format_iso8601(at);
  return body;
}

std::string progress_message(const json::object& body) { return envelope("progress", body); }

std::string result_message(std::string_view request_id, bool success, const json::value& data,
                           const json::object& metadata) {
  json::object body;
  body["request_id"] = request_id;
  body["success"] = success;
  body["data"] = data;
  body["metadata"] = metadata;
  return envelope("result", body);
}

std::string error_message(const std::optional<std::string>& request_id, ErrorCode code,
                          std::string_view message, json::object details,
                          std::optional<bool> retryable) {
  json::object body;
  if (request_id) {
    body["request_id"] = *request_id;
  } else {
    body["request_id"] = nullptr;
  }
  body["code"] = to_string(code);
  body["message"] = message;
  details["retryable"] = retryable.value_or(is_retryable(code));
  body["details"] = std::move(details);
  return envelope("error", body);
}

std::string error_message(const std::optional<std::string>& request_id, const HandlerError& error) {
  return error_message(request_id, error.code(), error.what(), error.details(), error.retryable());
}

std::string error_message(const RequestError& error) {
  return error_message(error.request_id, error.code, error.message, error.details);
}

std::string rate_limited_message(const std::optional<std::string>& request_id,
                                 std::string_view limit, std::int64_t limit_value,
                                 std::int64_t retry_after_ms) {
  json::object details;
  details["limit"] = limit;
  details["limit_value"] = limit_value;
  details["retry_after_ms"] = retry_after_ms;
  return error_message(request_id, ErrorCode::kRateLimited, "Too many requests", std::move(details),
                       true);
}

}  // namespace streamer::protocol
