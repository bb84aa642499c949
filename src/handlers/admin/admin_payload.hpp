// Reading admin API payloads: who the caller may see, which job a payload names, and
// the typed fields of jobs.list. Every bad field throws VALIDATION_ERROR with
// {field, expected, received}; a job the caller may not see throws NOT_FOUND exactly
// like an unknown one.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "core/handler.hpp"
#include "jobs/job_store.hpp"

namespace streamer::admin {

// The permission that lets a token see and act on every tenant's requests.
inline constexpr std::string_view kAdminPermission = "admin";
inline constexpr std::size_t kMaxPageSize = 200;
inline constexpr std::size_t kDefaultPageSize = 50;

bool is_admin(const Identity& caller);

// payload[field] as a non-empty string; nullopt when absent or null.
std::optional<std::string> optional_string(const boost::json::object& payload,
                                           std::string_view field);

// The job a payload names: request_id (required), tenant_id and user_id (default: the
// caller's). A non-admin naming anyone else gets NOT_FOUND, like an unknown id.
JobKey target_key(const boost::json::object& payload, const Identity& caller);

// NOT_FOUND for `key`, naming only its request id.
HandlerError not_found(const JobKey& key);

// The scope a payload's tenant_id / user_id asks for: an admin's as given (a user_id
// needs a tenant_id); anyone else's is always their own (tenant, user), and asking
// for another tenant or user answers UNAUTHORIZED (the admin permission is missing).
JobScope requested_scope(const boost::json::object& payload, const Identity& caller);

// The whole jobs.list query: scope, filters, limit and cursor.
JobQuery list_query(const boost::json::object& payload, const Identity& caller);

// ISO-8601 UTC ("2024-01-20T10:30:45Z", optional fraction), years 1970-2199, or nullopt.
std::optional<SystemTime> parse_timestamp(std::string_view text);

// The opaque jobs.list cursor naming the last job of a page, and back (nullopt when
// `text` is not one).
std::string encode_cursor(const JobRecord& last);
std::optional<JobQuery::After> decode_cursor(std::string_view text);

}  // namespace streamer::admin
