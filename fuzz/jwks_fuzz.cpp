// Fuzzes JWKS loading (auth/jwk.cpp load_jwks, public_key.cpp) and the ECDSA signature
// format conversion used for ES256/ES384 (auth/signature.cpp).
//
// Input: a JWKS document. Invariants:
//  - load_jwks either throws std::invalid_argument or returns at least one key, each
//    with a public key of a supported type, and no two keys share a non-empty kid;
//  - a verifier built from the document refuses a token signed with a key it does not
//    hold (the fixed HS256 secret is not configured, so every token is refused);
//  - the input bytes as a JOSE r||s signature: when they convert to DER, the DER
//    converts back to the same bytes (P-256 and P-384 widths).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "auth/jwt_verifier.hpp"
#include "auth/public_key.hpp"
#include "auth/signature.hpp"
#include "fuzz_check.hpp"
#include "fuzz_keys.hpp"

using namespace streamer;

namespace {

// An RS256 token whose signature is 256 zero bytes: never valid under any key.
const std::string& unsigned_token() {
  static const std::string token =
      "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIn0.eyJzdWIiOiJ1In0." + std::string(342, 'A');
  return token;
}

void check_jose_round_trip(std::string_view bytes) {
  for (std::size_t width : {32u, 48u}) {
    if (bytes.size() != 2 * width) continue;
    const auto der = auth::ecdsa_jose_to_der(bytes, width);
    if (!der) continue;
    const auto back = auth::ecdsa_der_to_jose(*der, width);
    FUZZ_CHECK(back && *back == bytes, "JOSE -> DER -> JOSE changes the signature");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_jose_round_trip(text);
  if (size > 64 * 1024) return 0;  // a JWKS file is small; keep executions fast

  try {
    const auto keys = auth::load_jwks(text);
    FUZZ_CHECK(!keys.empty(), "load_jwks returned no key without throwing");
    std::set<std::string> kids;
    for (const auto& key : keys) {
      FUZZ_CHECK(key.pkey != nullptr, "a JWKS key without a public key");
      if (!key.kid.empty()) FUZZ_CHECK(kids.insert(key.kid).second, "duplicate kid accepted");
    }
  } catch (const std::invalid_argument&) {
    return 0;  // refused document: the documented outcome
  }

  JwtConfig config;
  config.jwks_json = std::string(text);
  const JwtVerifier verifier(std::move(config));  // must not throw: load_jwks accepted it
  const auto result = verifier.verify(
      unsigned_token(),
      std::chrono::system_clock::time_point(std::chrono::seconds(fuzz::kNowSeconds)));
  FUZZ_CHECK(std::holds_alternative<JwtError>(result),
             "a token with a zero signature was accepted");
  return 0;
}
