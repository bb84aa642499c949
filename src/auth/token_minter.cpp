// mint_hs256_token: HS256 tokens for `streamer token`, tests and benchmarks.
#include <boost/json.hpp>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "auth/jwt_verifier.hpp"
#include "auth/signature.hpp"
#include "core/tenant_name.hpp"

namespace streamer {

std::string mint_hs256_token(const MintOptions& options,
                             std::chrono::system_clock::time_point now) {
  if (options.secret.empty()) throw std::invalid_argument("mint: the HMAC secret is empty");
  if (!is_valid_tenant_id(options.tenant_id)) {
    throw std::invalid_argument(
        "mint: a tenant id is 1-64 characters of A-Z a-z 0-9 . _ - and does not start with '.'");
  }
  if (!is_valid_user_id(options.subject)) {
    throw std::invalid_argument(
        "mint: a user id is 1-256 bytes of UTF-8 without control characters");
  }
  const int64_t iat = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();

  boost::json::object claims;
  claims["sub"] = options.subject;
  claims["tenant_id"] = options.tenant_id;
  boost::json::array permissions;
  for (const std::string& p : options.permissions) permissions.emplace_back(p);
  claims["permissions"] = std::move(permissions);
  if (!options.actions.empty()) {
    boost::json::array actions;
    for (const std::string& a : options.actions) actions.emplace_back(a);
    claims["actions"] = std::move(actions);
  }
  claims["iat"] = iat;
  claims["exp"] = iat + options.ttl.count();
  if (!options.issuer.empty()) claims["iss"] = options.issuer;
  if (!options.audience.empty()) claims["aud"] = options.audience;

  const std::string signing_input = auth::base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                                    auth::base64url_encode(boost::json::serialize(claims));
  const std::string mac = auth::hmac_sign(auth::Alg::kHS256, options.secret, signing_input);
  if (mac.empty()) throw std::runtime_error("mint: HMAC failed");
  return signing_input + "." + auth::base64url_encode(mac);
}

}  // namespace streamer
