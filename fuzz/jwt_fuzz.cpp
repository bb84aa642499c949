// Fuzzes the JWT verifier (auth/jwt_verifier, claims, base64url, signature checks).
//
// Every input is used twice:
//  1. as a compact token, verified against an HS256 secret plus a JWKS (RSA, P-256,
//     P-384), with an issuer and audience configured;
//  2. when it holds a newline, as "<header JSON>\n<claims JSON>": both are encoded and
//     signed with the configured HMAC secret (HS384/HS512 when the header asks for
//     them, else HS256), so the claim checks are reached with a valid signature.
// Invariants:
//  - an accepted token has a non-empty user and tenant and expires after `now`;
//  - a token signed with the right secret under its own HS* alg is never refused as
//    "bad_signature";
//  - refusal reasons are from the documented set; messages never contain the token;
//  - base64url: decode(encode(x)) == x, and an accepted unpadded encoding re-encodes to
//    itself (one accepted encoding per byte string).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "auth/base64url.hpp"
#include "auth/jwt_verifier.hpp"
#include "auth/signature.hpp"
#include "core/tenant_name.hpp"
#include "fuzz_check.hpp"
#include "fuzz_keys.hpp"

namespace json = boost::json;
using namespace streamer;

namespace {

const JwtVerifier& verifier() {
  static const JwtVerifier v([] {
    JwtConfig config;
    config.hmac_secret = std::string(fuzz::kHmacSecret);
    config.jwks_json = std::string(fuzz::kJwks);
    config.issuer = std::string(fuzz::kIssuer);
    config.audience = std::string(fuzz::kAudience);
    return config;
  }());
  return v;
}

const std::chrono::system_clock::time_point kNow{std::chrono::seconds(fuzz::kNowSeconds)};

void check_outcome(const std::variant<VerifiedToken, JwtError>& result, std::string_view token) {
  static const std::set<std::string> kReasons = {
      "missing_token", "malformed",         "bad_signature",  "alg_not_allowed", "token_expired",
      "not_yet_valid", "issued_in_future",  "wrong_issuer",   "wrong_audience",  "missing_claim",
      "unknown_key",   "invalid_tenant_id", "invalid_user_id"};
  if (const auto* ok = std::get_if<VerifiedToken>(&result)) {
    FUZZ_CHECK(!ok->identity.user_id.empty(), "accepted token without a user");
    FUZZ_CHECK(!ok->identity.tenant_id.empty(), "accepted token without a tenant");
    FUZZ_CHECK(is_valid_tenant_id(ok->identity.tenant_id),
               "accepted a tenant id of the wrong form");
    FUZZ_CHECK(is_valid_user_id(ok->identity.user_id), "accepted a user id of the wrong form");
    FUZZ_CHECK(ok->expires_at > kNow, "accepted token that has expired");
    return;
  }
  const auto& err = std::get<JwtError>(result);
  FUZZ_CHECK(kReasons.count(err.reason) == 1, "undocumented refusal reason");
  // Only a token-shaped input (two dots) is checked: shorter texts can be words of the
  // fixed messages themselves, none of which holds two dots.
  if (std::count(token.begin(), token.end(), '.') >= 2) {
    FUZZ_CHECK(err.message.find(token) == std::string::npos,
               "the refusal message contains the token");
  }
}

void check_base64url(std::string_view bytes) {
  const std::string encoded = auth::base64url_encode(bytes);
  const auto decoded = auth::base64url_decode(encoded);
  FUZZ_CHECK(decoded && *decoded == bytes, "base64url does not round-trip");
  if (bytes.find('=') == std::string_view::npos) {
    if (auto raw = auth::base64url_decode(bytes)) {
      FUZZ_CHECK(auth::base64url_encode(*raw) == bytes,
                 "two encodings accepted for one byte string");
    }
  }
}

// Signs "<header>\n<claims>" with the configured secret and verifies the result.
void verify_signed(std::string_view header_json, std::string_view claims_json) {
  auth::Alg alg = auth::Alg::kHS256;
  bool own_hmac_alg = false;  // the header names an HS* alg and nothing refuses it early
  json::error_code ec;
  const json::value header = json::parse(header_json, ec);
  if (!ec && header.is_object()) {
    const json::value* name = header.get_object().if_contains("alg");
    if (name && name->is_string()) {
      if (auto parsed = auth::parse_alg(std::string_view(name->get_string()));
          parsed && auth::alg_family(*parsed) == auth::AlgFamily::kHmac) {
        alg = *parsed;
        own_hmac_alg = !header.get_object().contains("crit");
      }
    }
  }
  const std::string input =
      auth::base64url_encode(header_json) + "." + auth::base64url_encode(claims_json);
  const std::string token =
      input + "." + auth::base64url_encode(auth::hmac_sign(alg, fuzz::kHmacSecret, input));
  const auto result = verifier().verify(token, kNow);
  check_outcome(result, token);
  if (own_hmac_alg && token.size() <= kMaxTokenBytes) {
    const auto* err = std::get_if<JwtError>(&result);
    FUZZ_CHECK(!err || err->reason != "bad_signature", "a correctly signed token was refused");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_outcome(verifier().verify(text, kNow), text);
  check_base64url(text);
  if (const auto nl = text.find('\n'); nl != std::string_view::npos) {
    verify_signed(text.substr(0, nl), text.substr(nl + 1));
  }
  return 0;
}
