// JWT verification of client tokens: HS256/384/512 with a shared secret, RS256/384/512
// and ES256/384 with PEM public keys or a JWKS file. Pure: no I/O after load.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/handler.hpp"

namespace streamer {

struct JwtConfig {
  std::string hmac_secret;          // HS* when non-empty
  std::string public_key_pem;       // RS*/ES* PEM (RSA or EC public key)
  std::string jwks_json;            // contents of a JWKS file ("keys": [...]), kid-selected
  std::string issuer;               // checked when non-empty
  std::string audience;             // checked when non-empty (aud string or array)
  std::chrono::seconds leeway{60};  // for iat and nbf; exp is strict
  std::chrono::seconds exp_leeway{0};
};

// Tokens larger than this are refused as "malformed" before any decoding.
inline constexpr size_t kMaxTokenBytes = 8 * 1024;

// A verified token.
struct VerifiedToken {
  Identity identity;  // sub, tenant_id, permissions (empty when the claim is absent)
  // The first instant at which verify() would refuse the token as expired
  // (exp + exp_leeway); a gateway closes live connections then.
  std::chrono::system_clock::time_point expires_at;
};

// Why a token was refused; `reason` is a short machine-readable string used as
// details.reason ("missing_token", "malformed", "bad_signature", "alg_not_allowed",
// "token_expired", "not_yet_valid", "issued_in_future", "wrong_issuer",
// "wrong_audience", "missing_claim", "invalid_tenant_id", "invalid_user_id",
// "unknown_key").
struct JwtError {
  std::string reason;
  std::string message;
};

// Verifies compact-JWS tokens. Immutable after construction; verify() may be called
// from any number of threads at once.
//
// Key selection: HS* tokens use hmac_secret only. RS*/ES* tokens use the public keys:
// with a `kid` header, the JWKS key of that kid (the PEM key when no JWKS key has it,
// else "unknown_key"); without one, the only configured key that fits the algorithm
// (several -> "unknown_key"). A key whose type does not fit `alg` (RSA for RS*, P-256
// for ES256, P-384 for ES384), an algorithm family without a configured key, and
// `none` are "alg_not_allowed".
class JwtVerifier {
 public:
  // Throws std::invalid_argument when the configuration is unusable: bad PEM/JWKS,
  // RSA keys under 2048 bits, EC curves other than P-256/P-384, a PEM text as the HMAC
  // secret, negative leeways, or no key at all.
  explicit JwtVerifier(JwtConfig config);
  ~JwtVerifier();
  JwtVerifier(JwtVerifier&&) noexcept;
  JwtVerifier& operator=(JwtVerifier&&) noexcept;

  // Verifies structure, algorithm, signature and then claims at time `now`. Never logs
  // the token and never puts it (or any part of it) into JwtError::message.
  std::variant<VerifiedToken, JwtError> verify(std::string_view token,
                                               std::chrono::system_clock::time_point now) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct MintOptions {
  std::string secret;
  std::string subject;
  std::string tenant_id;
  std::vector<std::string> permissions{"read", "write"};
  std::vector<std::string> actions;  // claim "actions" (remote workers); omitted when empty
  std::chrono::seconds ttl{3600};
  std::string issuer;    // omitted when empty
  std::string audience;  // omitted when empty
};

// Makes an HS256 token (for `streamer token`, tests and benchmarks): header
// {"alg":"HS256","typ":"JWT"}, claims sub, tenant_id, permissions, iat = now (whole
// seconds), exp = iat + ttl (ttl may be negative, for expired test tokens), and iss/aud
// when set. Throws std::invalid_argument when the secret is empty or the subject or
// tenant id would be refused by verify().
std::string mint_hs256_token(const MintOptions& options, std::chrono::system_clock::time_point now);

}  // namespace streamer
