// JWT verification (DESIGN §2): HS256/384/512 with a shared secret, RS256/384/512
// and ES256/384 with PEM public keys or a JWKS file. Pure: no I/O after load.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/handler.hpp"

namespace streamer {

struct JwtConfig {
  std::string hmac_secret;               // HS* when non-empty
  std::string public_key_pem;            // RS*/ES* PEM (RSA or EC public key)
  std::string jwks_json;                 // contents of a JWKS file ("keys": [...]), kid-selected
  std::string issuer;                    // checked when non-empty
  std::string audience;                  // checked when non-empty (aud string or array)
  std::chrono::seconds leeway{60};       // for iat and nbf; exp is strict
  std::chrono::seconds exp_leeway{0};
};

// A verified token.
struct VerifiedToken {
  Identity identity;
  std::chrono::system_clock::time_point expires_at;
};

// Why a token was refused; `reason` is a short machine-readable string used as
// details.reason ("missing_token", "malformed", "bad_signature", "alg_not_allowed",
// "token_expired", "not_yet_valid", "issued_in_future", "wrong_issuer",
// "wrong_audience", "missing_claim", "unknown_key").
struct JwtError {
  std::string reason;
  std::string message;
};

class JwtVerifier {
 public:
  // Throws std::invalid_argument when the configuration is unusable (bad PEM/JWKS,
  // or no key at all).
  explicit JwtVerifier(JwtConfig config);
  ~JwtVerifier();
  JwtVerifier(JwtVerifier&&) noexcept;
  JwtVerifier& operator=(JwtVerifier&&) noexcept;

  // Verifies signature, algorithm and claims at time `now`. Never logs the token.
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
  std::chrono::seconds ttl{3600};
  std::string issuer;    // omitted when empty
  std::string audience;  // omitted when empty
};

// Makes an HS256 token (for `streamer token`, tests and benchmarks).
std::string mint_hs256_token(const MintOptions& options, std::chrono::system_clock::time_point now);

}  // namespace streamer
