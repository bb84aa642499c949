#include "handlers/admin/admin_payload.hpp"

#include <charconv>
#include <ctime>

#include "auth/base64url.hpp"

namespace streamer::admin {
namespace json = boost::json;

namespace {

const json::value& field_value(const json::object& payload, std::string_view field) {
  static const json::value null_value;
  auto it = payload.find(field);
  return it == payload.end() ? null_value : it->value();
}

std::int64_t epoch_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::vector<JobStatus> states_of(const json::value& v) {
  static const char* kExpected = "one of queued, running, succeeded, failed, cancelled";
  std::vector<JobStatus> out;
  auto one = [&](const json::value& item, const std::string& field) {
    std::optional<JobStatus> s;
    if (item.is_string()) s = job_status_from_string(item.get_string());
    if (!s) throw HandlerError::validation(field, kExpected, item, "Unknown request state");
    out.push_back(*s);
  };
  if (v.is_array() && !v.get_array().empty() && v.get_array().size() <= 5) {
    const auto& items = v.get_array();
    for (std::size_t i = 0; i < items.size(); ++i)
      one(items[i], "state[" + std::to_string(i) + "]");
  } else if (v.is_string()) {
    one(v, "state");
  } else {
    throw HandlerError::validation("state", std::string(kExpected) + ", or an array of 1-5 of them",
                                   v, "Invalid state filter");
  }
  return out;
}

std::optional<SystemTime> timestamp_field(const json::object& payload, std::string_view field) {
  const auto& v = field_value(payload, field);
  if (v.is_null()) return std::nullopt;
  std::optional<SystemTime> t;
  if (v.is_string()) t = parse_timestamp(v.get_string());
  if (!t) {
    throw HandlerError::validation(field, "ISO-8601 UTC timestamp, e.g. 2024-01-20T10:30:45Z", v,
                                   "Invalid " + std::string(field) + " timestamp");
  }
  return t;
}

}  // namespace

bool is_admin(const Identity& caller) { return caller.has_permission(kAdminPermission); }

std::optional<std::string> optional_string(const json::object& payload, std::string_view field) {
  const auto& v = field_value(payload, field);
  if (v.is_null()) return std::nullopt;
  if (!v.is_string() || v.get_string().empty() || v.get_string().size() > 256) {
    throw HandlerError::validation(field, "non-empty string of at most 256 characters", v,
                                   "payload." + std::string(field) + " must be a non-empty string");
  }
  return std::string(v.get_string());
}

HandlerError not_found(const JobKey& key) {
  json::object details;
  details["request_id"] = key.request_id;
  return HandlerError(ErrorCode::kNotFound, "No such request", std::move(details));
}

JobKey target_key(const json::object& payload, const Identity& caller) {
  auto id = optional_string(payload, "request_id");
  if (!id) {
    throw HandlerError::validation("request_id", "non-empty string",
                                   field_value(payload, "request_id"),
                                   "payload.request_id is required");
  }
  JobKey key{optional_string(payload, "tenant_id").value_or(caller.tenant_id),
             optional_string(payload, "user_id").value_or(caller.user_id), std::move(*id)};
  if (!is_admin(caller) && (key.tenant_id != caller.tenant_id || key.user_id != caller.user_id)) {
    throw not_found(key);  // never reveal whether another tenant's id exists
  }
  return key;
}

JobScope requested_scope(const json::object& payload, const Identity& caller) {
  auto tenant = optional_string(payload, "tenant_id");
  auto user = optional_string(payload, "user_id");
  if (!is_admin(caller)) {
    if ((tenant && *tenant != caller.tenant_id) || (user && *user != caller.user_id)) {
      json::object details;
      details["reason"] = "missing_permission";
      details["required_permission"] = kAdminPermission;
      throw HandlerError(ErrorCode::kUnauthorized,
                         "Permission 'admin' is required to see other tenants or users",
                         std::move(details));
    }
    return JobScope{caller.tenant_id, caller.user_id};
  }
  if (user && !tenant) {
    throw HandlerError::validation("tenant_id", "a tenant id when user_id is given", nullptr,
                                   "payload.user_id needs payload.tenant_id");
  }
  return JobScope{tenant, user};
}

JobQuery list_query(const json::object& payload, const Identity& caller) {
  JobQuery q;
  q.scope = requested_scope(payload, caller);
  q.action = optional_string(payload, "action");
  if (const auto& s = field_value(payload, "state"); !s.is_null()) q.states = states_of(s);
  q.created_since = timestamp_field(payload, "since");
  q.created_before = timestamp_field(payload, "until");
  if (q.created_since && q.created_before && *q.created_before <= *q.created_since) {
    throw HandlerError::validation("until", "a time after since", field_value(payload, "until"),
                                   "until must be after since");
  }
  if (const auto& l = field_value(payload, "limit"); !l.is_null()) {
    std::int64_t n = 0;
    if (l.is_int64()) n = l.get_int64();
    if (!l.is_int64() || n < 1 || n > static_cast<std::int64_t>(kMaxPageSize)) {
      throw HandlerError::validation("limit", "integer 1..200", l, "Invalid page size");
    }
    q.limit = static_cast<std::size_t>(n);
  } else {
    q.limit = kDefaultPageSize;
  }
  if (auto c = optional_string(payload, "cursor")) {
    q.after = decode_cursor(*c);
    if (!q.after) {
      throw HandlerError::validation("cursor", "the next_cursor of a previous jobs.list page",
                                     json::value(*c), "Invalid cursor");
    }
  }
  return q;
}

std::optional<SystemTime> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  if (text.size() < 20 || text.size() > 40 || text.back() != 'Z') return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    auto r = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == text.data() + pos + len;
  };
  int y, mo, d, h, mi, s;
  if (!num(0, 4, y) || text[4] != '-' || !num(5, 2, mo) || text[7] != '-' || !num(8, 2, d) ||
      text[10] != 'T' || !num(11, 2, h) || text[13] != ':' || !num(14, 2, mi) || text[16] != ':' ||
      !num(17, 2, s))
    return std::nullopt;
  // 1970..2199: inside the clock's range (nanoseconds since 1970 end in 2262).
  if (y < 1970 || y > 2199 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return std::nullopt;
  std::int64_t ms = 0;
  std::string_view rest = text.substr(19, text.size() - 20);
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() < 2) return std::nullopt;
    int scale = 100;
    for (char c : rest.substr(1)) {
      if (c < '0' || c > '9') return std::nullopt;
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t secs = timegm(&tm);
  if (tm.tm_mday != d) return std::nullopt;  // e.g. February 30th rolled over
  return SystemTime(std::chrono::seconds(secs)) + std::chrono::milliseconds(ms);
}

std::string encode_cursor(const JobRecord& last) {
  return auth::base64url_encode(std::to_string(epoch_ms(last.created_at)) + ":" + last.job_id);
}

std::optional<JobQuery::After> decode_cursor(std::string_view text) {
  auto raw = auth::base64url_decode(text);
  if (!raw) return std::nullopt;
  const auto colon = raw->find(':');
  if (colon == std::string::npos || colon + 1 >= raw->size()) return std::nullopt;
  std::int64_t ms = 0;
  auto r = std::from_chars(raw->data(), raw->data() + colon, ms);
  if (r.ec != std::errc() || r.ptr != raw->data() + colon || ms < 0) return std::nullopt;
  std::string id = raw->substr(colon + 1);
  if (id.size() > 64) return std::nullopt;
  return JobQuery::After{SystemTime(std::chrono::milliseconds(ms)), std::move(id)};
}

}  // namespace streamer::admin
