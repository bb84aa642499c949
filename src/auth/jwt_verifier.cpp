#include "auth/jwt_verifier.hpp"

#include <boost/json.hpp>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "auth/claims.hpp"
#include "auth/public_key.hpp"
#include "auth/signature.hpp"

namespace streamer {
namespace {

namespace json = boost::json;
using auth::Alg;
using auth::AlgFamily;
using auth::PublicKey;

JwtError error(std::string reason, std::string message) {
  return JwtError{std::move(reason), std::move(message)};
}

// The three segments of a compact JWS, still encoded.
struct Segments {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // "header.payload"
};

std::optional<Segments> split(std::string_view token) {
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
  return Segments{token.substr(0, first), token.substr(first + 1, second - first - 1),
                  token.substr(second + 1), token.substr(0, second)};
}

// Decodes a base64url segment holding a JSON object.
std::optional<json::object> decode_object(std::string_view segment) {
  auto bytes = auth::base64url_decode(segment);
  if (!bytes) return std::nullopt;
  json::error_code ec;
  json::value value = json::parse(*bytes, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

}  // namespace

struct JwtVerifier::Impl {
  JwtConfig config;
  std::vector<PublicKey> pem_keys;   // zero or one, from public_key_pem
  std::vector<PublicKey> jwks_keys;  // from jwks_json

  // Chooses the key for an RS*/ES* token (see the selection rules in the header).
  std::variant<const PublicKey*, JwtError> select_key(Alg alg, const json::object& header) const;
};

std::variant<const PublicKey*, JwtError> JwtVerifier::Impl::select_key(
    Alg alg, const json::object& header) const {
  const std::string name(auth::alg_name(alg));
  const auto fits = [alg](const PublicKey& key) {
    return auth::key_matches_alg(key.type, alg) &&
           (key.alg.empty() || key.alg == auth::alg_name(alg));
  };
  if (pem_keys.empty() && jwks_keys.empty()) {
    return error("alg_not_allowed", name + " is not enabled: no public key is configured");
  }
  const json::value* kid = header.if_contains("kid");
  if (kid && !kid->is_string()) return error("malformed", "header \"kid\" must be a string");

  std::vector<const PublicKey*> candidates;
  if (kid) {
    for (const PublicKey& key : jwks_keys) {
      if (!key.kid.empty() && key.kid == kid->get_string()) {
        if (!fits(key))
          return error("alg_not_allowed", name + " does not fit the key named by kid");
        return &key;
      }
    }
    // An unknown kid falls back to the PEM key, which has no kid of its own.
    if (pem_keys.empty()) return error("unknown_key", "no configured key has this kid");
    for (const PublicKey& key : pem_keys) candidates.push_back(&key);
  } else {
    for (const PublicKey& key : pem_keys) candidates.push_back(&key);
    for (const PublicKey& key : jwks_keys) candidates.push_back(&key);
  }
  std::erase_if(candidates, [&](const PublicKey* key) { return !fits(*key); });
  if (candidates.empty()) {
    return error("alg_not_allowed", name + " does not fit the configured public key");
  }
  if (candidates.size() > 1) {
    return error("unknown_key", "several keys fit " + name + "; the token must name one by kid");
  }
  return candidates.front();
}

JwtVerifier::JwtVerifier(JwtConfig config) : impl_(std::make_unique<Impl>()) {
  if (config.hmac_secret.empty() && config.public_key_pem.empty() && config.jwks_json.empty()) {
    throw std::invalid_argument("JWT: no HMAC secret, public key or JWKS configured");
  }
  // A PEM text as the HMAC secret is the classic algorithm-confusion setup.
  if (config.hmac_secret.find("-----BEGIN") != std::string::npos) {
    throw std::invalid_argument("JWT: the HMAC secret must not be a PEM key");
  }
  if (config.leeway.count() < 0 || config.exp_leeway.count() < 0) {
    throw std::invalid_argument("JWT: leeways must not be negative");
  }
  if (!config.public_key_pem.empty()) {
    impl_->pem_keys.push_back(auth::load_pem_public_key(config.public_key_pem));
  }
  if (!config.jwks_json.empty()) impl_->jwks_keys = auth::load_jwks(config.jwks_json);
  impl_->config = std::move(config);
}

JwtVerifier::~JwtVerifier() = default;
JwtVerifier::JwtVerifier(JwtVerifier&&) noexcept = default;
JwtVerifier& JwtVerifier::operator=(JwtVerifier&&) noexcept = default;

std::variant<VerifiedToken, JwtError> JwtVerifier::verify(
    std::string_view token, std::chrono::system_clock::time_point now) const {
  if (token.empty()) return error("missing_token", "no token was given");
  if (token.size() > kMaxTokenBytes) return error("malformed", "token is too large");
  const auto segments = split(token);
  if (!segments) return error("malformed", "token must have three dot-separated segments");

  const auto header = decode_object(segments->header);
  if (!header) return error("malformed", "token header is not base64url-encoded JSON object");
  const auto signature = auth::base64url_decode(segments->signature);
  if (!signature) return error("malformed", "token signature is not base64url");
  if (!auth::base64url_decode(segments->payload)) {
    return error("malformed", "token payload is not base64url");
  }

  const json::value* alg_value = header->if_contains("alg");
  if (!alg_value || !alg_value->is_string()) {
    return error("malformed", "token header has no \"alg\"");
  }
  const auto alg = auth::parse_alg(std::string_view(alg_value->get_string()));
  if (!alg) return error("alg_not_allowed", "token algorithm is not allowed");
  if (header->contains("crit")) {
    return error("malformed", "token header has critical extensions, which are unsupported");
  }

  if (auth::alg_family(*alg) == AlgFamily::kHmac) {
    // HS* uses the HMAC secret only, never a public key (no algorithm confusion).
    if (impl_->config.hmac_secret.empty()) {
      return error("alg_not_allowed", std::string(auth::alg_name(*alg)) +
                                          " is not enabled: no HMAC secret is configured");
    }
    if (!auth::verify_hmac(*alg, impl_->config.hmac_secret, segments->signing_input, *signature)) {
      return error("bad_signature", "token signature does not verify");
    }
  } else {
    auto key = impl_->select_key(*alg, *header);
    if (auto* e = std::get_if<JwtError>(&key)) return *e;
    if (!auth::verify_signature(*alg, std::get<const PublicKey*>(key)->pkey.get(),
                                segments->signing_input, *signature)) {
      return error("bad_signature", "token signature does not verify");
    }
  }

  const auto claims = decode_object(segments->payload);
  if (!claims) return error("malformed", "token payload is not a JSON object");
  return auth::check_claims(*claims, impl_->config, now);
}

}  // namespace streamer
