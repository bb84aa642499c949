// Test-only helpers: key generation and token signing done independently of the
// verifier (OpenSSL directly), so tests exercise the verifier against real signatures.
#pragma once

#include <openssl/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace streamer::testing {

using Clock = std::chrono::system_clock;
inline const Clock::time_point kNow{std::chrono::seconds(1'700'000'000)};
inline constexpr int64_t kNowSeconds = 1'700'000'000;
inline constexpr std::string_view kSecret = "unit-test-secret-0123456789abcdef";

// Base64url without padding (independent of auth/base64url).
std::string b64(std::string_view bytes);
std::string b64_json(const boost::json::value& value);

// sub "user-1", tenant_id "tenant-1", permissions ["read"], iat now, exp now + 600.
boost::json::object base_claims();

// {"alg": alg, "typ": "JWT"} plus `extra` members.
boost::json::object header(std::string_view alg, const boost::json::object& extra = {});

// Raw HMAC with "SHA256"/"SHA384"/"SHA512".
std::string hmac(std::string_view digest, std::string_view secret, std::string_view data);

struct KeyPair {
  std::shared_ptr<EVP_PKEY> key;
  std::string public_pem;  // SubjectPublicKeyInfo
  std::string curve;       // "P-256"/"P-384", empty for RSA
  // The public JWK, with `kid` when non-empty.
  boost::json::object jwk(std::string_view kid = {}) const;
  // A JWS signature over `data`: PKCS#1 v1.5 for RSA, JOSE r||s for EC.
  std::string sign(std::string_view digest, std::string_view data) const;
  // The DER signature as OpenSSL produces it (EC: not JOSE).
  std::string sign_der(std::string_view digest, std::string_view data) const;
};

// Cached keys: RSA 2048 (index 0 or 1), EC "P-256"/"P-384" (index 0 or 1).
const KeyPair& rsa_key(int index = 0);
const KeyPair& ec_key(std::string_view curve, int index = 0);

// "SHA256" for "HS256"/"RS256"/"ES256", and so on.
std::string digest_for(std::string_view alg);

// header.payload.signature with an HMAC signature under `secret` using `alg`'s digest.
std::string hs_token(std::string_view alg, const boost::json::object& claims,
                     std::string_view secret = kSecret, const boost::json::object& extra = {});
// header.payload.signature signed with `key` using `alg`'s digest.
std::string pk_token(const KeyPair& key, std::string_view alg, const boost::json::object& claims,
                     const boost::json::object& extra = {});

// Splits a token into its three segments (asserting there are three).
struct Parts {
  std::string header, payload, signature;
};
Parts parts(const std::string& token);

}  // namespace streamer::testing
