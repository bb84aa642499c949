#include "auth/claims.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "core/tenant_name.hpp"

namespace streamer::auth {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

// NumericDates are clamped to what a system_clock time_point can hold (~ ±292 years).
constexpr int64_t kMaxSeconds = 9'000'000'000;

JwtError error(std::string reason, std::string message) {
  return JwtError{std::move(reason), std::move(message)};
}

// A NumericDate claim: nullopt when absent, or a JwtError when not a finite number.
// Fractions are rounded toward the stricter side by the caller's choice of `round_up`.
std::variant<std::monostate, Clock::time_point, JwtError> numeric_date(const json::object& claims,
                                                                       std::string_view name,
                                                                       bool round_up) {
  const json::value* v = claims.if_contains(name);
  if (!v) return std::monostate{};
  int64_t seconds = 0;
  if (v->is_int64()) {
    seconds = std::clamp<int64_t>(v->get_int64(), -kMaxSeconds, kMaxSeconds);
  } else if (v->is_uint64()) {
    seconds = kMaxSeconds;  // only values above INT64_MAX are stored as uint64
  } else if (v->is_double() && std::isfinite(v->get_double())) {
    const double d = round_up ? std::ceil(v->get_double()) : std::floor(v->get_double());
    seconds = static_cast<int64_t>(std::clamp<double>(d, -kMaxSeconds, kMaxSeconds));
  } else {
    return error("malformed", "claim \"" + std::string(name) + "\" must be a number");
  }
  return Clock::time_point(std::chrono::seconds(seconds));
}

// A required non-empty string claim.
std::variant<std::string, JwtError> required_string(const json::object& claims,
                                                    std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (!v || (v->is_string() && v->get_string().empty())) {
    return error("missing_claim", "claim \"" + std::string(name) + "\" is required");
  }
  if (!v->is_string()) {
    return error("malformed", "claim \"" + std::string(name) + "\" must be a string");
  }
  return std::string(v->get_string());
}

std::optional<JwtError> check_issuer(const json::object& claims, const JwtConfig& config) {
  const json::value* iss = claims.if_contains("iss");
  if (iss && !iss->is_string()) return error("malformed", "claim \"iss\" must be a string");
  if (config.issuer.empty()) return std::nullopt;
  if (!iss) return error("missing_claim", "claim \"iss\" is required");
  if (iss->get_string() != config.issuer) return error("wrong_issuer", "unexpected issuer");
  return std::nullopt;
}

std::optional<JwtError> check_audience(const json::object& claims, const JwtConfig& config) {
  const json::value* aud = claims.if_contains("aud");
  bool found = false;
  if (aud && aud->is_string()) {
    found = aud->get_string() == config.audience;
  } else if (aud && aud->is_array()) {
    for (const json::value& item : aud->get_array()) {
      if (!item.is_string()) return error("malformed", "claim \"aud\" must hold strings");
      if (item.get_string() == config.audience) found = true;
    }
  } else if (aud) {
    return error("malformed", "claim \"aud\" must be a string or an array of strings");
  }
  if (config.audience.empty()) return std::nullopt;
  if (!aud) return error("missing_claim", "claim \"aud\" is required");
  if (!found) return error("wrong_audience", "token is not meant for this audience");
  return std::nullopt;
}

// The array of strings in claim `name` (empty when absent); "malformed" otherwise.
std::variant<std::vector<std::string>, JwtError> string_list(const json::object& claims,
                                                             std::string_view name) {
  std::vector<std::string> out;
  const json::value* v = claims.if_contains(name);
  if (!v) return out;
  const std::string quoted = "claim \"" + std::string(name) + "\"";
  if (!v->is_array()) return error("malformed", quoted + " must be an array");
  for (const json::value& item : v->get_array()) {
    if (!item.is_string()) return error("malformed", quoted + " must hold strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

}  // namespace

std::variant<VerifiedToken, JwtError> check_claims(const json::object& claims,
                                                   const JwtConfig& config, Clock::time_point now) {
  VerifiedToken token;

  auto sub = required_string(claims, "sub");
  if (auto* e = std::get_if<JwtError>(&sub)) return *e;
  auto tenant = required_string(claims, "tenant_id");
  if (auto* e = std::get_if<JwtError>(&tenant)) return *e;
  // The ids name storage and keys: a token carrying any other id is refused whole.
  if (!is_valid_tenant_id(std::get<std::string>(tenant))) {
    return error("invalid_tenant_id",
                 "claim \"tenant_id\" must be 1-64 characters of A-Z a-z 0-9 . _ - and not "
                 "start with '.'");
  }
  if (!is_valid_user_id(std::get<std::string>(sub))) {
    return error("invalid_user_id",
                 "claim \"sub\" must be at most 256 bytes of UTF-8 without control characters");
  }

  auto exp = numeric_date(claims, "exp", /*round_up=*/false);
  if (auto* e = std::get_if<JwtError>(&exp)) return *e;
  if (std::holds_alternative<std::monostate>(exp)) {
    return error("missing_claim", "claim \"exp\" is required");
  }
  auto nbf = numeric_date(claims, "nbf", /*round_up=*/true);
  if (auto* e = std::get_if<JwtError>(&nbf)) return *e;
  auto iat = numeric_date(claims, "iat", /*round_up=*/true);
  if (auto* e = std::get_if<JwtError>(&iat)) return *e;

  auto perms = string_list(claims, "permissions");
  if (auto* e = std::get_if<JwtError>(&perms)) return *e;
  auto actions = string_list(claims, "actions");
  if (auto* e = std::get_if<JwtError>(&actions)) return *e;
  if (auto e = check_issuer(claims, config)) return *e;
  if (auto e = check_audience(claims, config)) return *e;

  // exp: the token is valid strictly before exp (+ exp_leeway).
  token.expires_at = std::get<Clock::time_point>(exp) + config.exp_leeway;
  if (now >= token.expires_at) return error("token_expired", "token has expired");
  if (auto* t = std::get_if<Clock::time_point>(&nbf); t && now + config.leeway < *t) {
    return error("not_yet_valid", "token is not valid yet");
  }
  if (auto* t = std::get_if<Clock::time_point>(&iat); t && now + config.leeway < *t) {
    return error("issued_in_future", "token was issued in the future");
  }

  token.identity.user_id = std::move(std::get<std::string>(sub));
  token.identity.tenant_id = std::move(std::get<std::string>(tenant));
  token.identity.permissions = std::move(std::get<std::vector<std::string>>(perms));
  token.identity.actions = std::move(std::get<std::vector<std::string>>(actions));
  return token;
}

}  // namespace streamer::auth
