#include "handlers/admin/admin_http.hpp"

#include <charconv>

#include "core/json_text.hpp"

namespace streamer::admin {
namespace json = boost::json;

namespace {

AdminHttpAnswer error_answer(unsigned status, ErrorCode code, std::string_view message,
                             json::object details = {}) {
  json::object err;
  err["code"] = to_string(code);
  err["message"] = message;
  err["details"] = std::move(details);
  return {status, to_json_text(json::object{{"error", std::move(err)}})};
}

unsigned status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kValidationError:
      return 400;
    case ErrorCode::kUnauthorized:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    default:
      return 500;
  }
}

// A form-encoded query component, decoded ('+' is a space); nullopt on a bad escape.
std::optional<std::string> form_decoded(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      unsigned v = 0;
      if (i + 2 >= text.size()) return std::nullopt;
      auto r = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
      if (r.ec != std::errc() || r.ptr != text.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// The query string as a payload: every parameter once, a string; `limit` a number when
// it is one; `state` (may repeat) an array when repeated. nullopt when malformed or a
// parameter repeats.
std::optional<json::object> payload_of(std::string_view query) {
  json::object payload;
  std::size_t pos = 0;
  while (pos < query.size()) {
    std::size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view pair = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto key = form_decoded(pair.substr(0, eq));
    auto value =
        form_decoded(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value || key->empty()) return std::nullopt;
    if (*key == "state" && payload.contains("state")) {
      auto& prev = payload["state"];
      if (!prev.is_array()) prev = json::array{prev};
      prev.as_array().emplace_back(*value);
      continue;
    }
    if (payload.contains(*key)) return std::nullopt;
    std::int64_t n = 0;
    auto r = std::from_chars(value->data(), value->data() + value->size(), n);
    if (*key == "limit" && !value->empty() && r.ec == std::errc() &&
        r.ptr == value->data() + value->size()) {
      payload[*key] = n;
    } else {
      payload[*key] = *value;
    }
  }
  return payload;
}

}  // namespace

AdminHttpAnswer answer_admin_http(const HandlerRegistry& registry, const HandlerEnvironment& env,
                                  const Identity& caller, std::string_view path,
                                  std::string_view query) {
  auto payload = payload_of(query);
  if (!payload) {
    return error_answer(400, ErrorCode::kValidationError, "Malformed or repeated query parameter");
  }
  std::string action = "jobs.list";
  if (path.starts_with("/admin/jobs/")) {
    // `path` is percent-decoded already; a request id is one segment.
    const auto id = path.substr(std::string_view("/admin/jobs/").size());
    if (id.empty() || id.find('/') != std::string_view::npos)
      return error_answer(404, ErrorCode::kNotFound, "No such route");
    (*payload)["request_id"] = id;
    action = "jobs.get";
  }
  Handler* handler = registry.find(action);
  if (!handler) return error_answer(404, ErrorCode::kNotFound, "The admin API is off");
  struct NoProgress final : Progress {
    void report(double, std::string_view, json::object) override {}
  } progress;
  static const CancelToken never_cancelled;
  JobContext ctx{caller, "http", "", 1, progress, never_cancelled, env};
  try {
    auto result = parse_and_run(*handler, *payload, ctx);
    return {200, to_json_text(result.data)};
  } catch (const HandlerError& e) {
    return error_answer(status_of(e.code()), e.code(), e.what(), e.details());
  } catch (const std::exception&) {
    return error_answer(500, ErrorCode::kInternalError, "Internal error");
  }
}

}  // namespace streamer::admin
