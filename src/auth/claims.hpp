// Claim checks for a token whose signature has already been verified.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <variant>

#include "auth/jwt_verifier.hpp"

namespace streamer::auth {

// Checks the registered and Streamer claims of `claims` against `config` at `now`:
// sub/tenant_id (non-empty strings) and exp (number) are required; tenant_id must be a
// valid tenant id ("invalid_tenant_id") and sub a valid user id ("invalid_user_id") as
// core/tenant_name.hpp defines them; exp is strict up to config.exp_leeway; nbf and iat
// allow config.leeway; iss/aud must match when configured. A claim of the wrong type is
// "malformed". Returns the caller's identity or the first failing reason.
std::variant<VerifiedToken, JwtError> check_claims(const boost::json::object& claims,
                                                   const JwtConfig& config,
                                                   std::chrono::system_clock::time_point now);

}  // namespace streamer::auth
