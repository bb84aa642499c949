// JwtVerifier: HMAC algorithms, token structure, `alg` handling, configuration and
// the minter. Asymmetric keys are in jwt_asymmetric_test.cpp, claims in
// jwt_claims_test.cpp.
#include "auth/jwt_verifier.hpp"

#include <gtest/gtest.h>

#include "auth/base64url.hpp"
#include "auth/test_tokens.hpp"

namespace streamer {
namespace {

namespace json = boost::json;
using namespace streamer::testing;

JwtConfig hmac_config() {
  JwtConfig config;
  config.hmac_secret = std::string(kSecret);
  return config;
}

// The reason verify() gives, or "ok".
std::string reason(const JwtVerifier& verifier, std::string_view token,
                   Clock::time_point now = kNow) {
  auto result = verifier.verify(token, now);
  if (auto* e = std::get_if<JwtError>(&result)) {
    // The token never leaks into messages.
    if (token.size() > 8) {
      EXPECT_EQ(e->message.find(token.substr(0, 8)), std::string::npos);
    }
    EXPECT_FALSE(e->message.empty());
    return e->reason;
  }
  return "ok";
}

TEST(JwtVerifierHmac, AcceptsEveryHmacAlgorithm) {
  JwtVerifier verifier(hmac_config());
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    auto result = verifier.verify(hs_token(alg, base_claims()), kNow);
    ASSERT_TRUE(std::holds_alternative<VerifiedToken>(result)) << alg;
    const auto& token = std::get<VerifiedToken>(result);
    EXPECT_EQ(token.identity.user_id, "user-1");
    EXPECT_EQ(token.identity.tenant_id, "tenant-1");
    EXPECT_EQ(token.identity.permissions, std::vector<std::string>{"read"});
    EXPECT_EQ(token.expires_at, kNow + std::chrono::seconds(600));
  }
}

TEST(JwtVerifierHmac, RejectsWrongSecretAndMismatchedDigest) {
  JwtVerifier verifier(hmac_config());
  EXPECT_EQ(reason(verifier, hs_token("HS256", base_claims(), "another-secret")), "bad_signature");
  // Header says HS384, MAC is HS256.
  const std::string input = b64_json(header("HS384")) + "." + b64_json(base_claims());
  EXPECT_EQ(reason(verifier, input + "." + b64(hmac("SHA256", kSecret, input))), "bad_signature");
}

TEST(JwtVerifierHmac, RejectsTamperedPayloadAndSignature) {
  JwtVerifier verifier(hmac_config());
  const std::string token = hs_token("HS256", base_claims());
  Parts p = parts(token);
  json::object claims = base_claims();
  claims["sub"] = "admin";
  EXPECT_EQ(reason(verifier, p.header + "." + b64_json(claims) + "." + p.signature),
            "bad_signature");
  claims = base_claims();
  claims["tenant_id"] = "tenant-2";
  EXPECT_EQ(reason(verifier, p.header + "." + b64_json(claims) + "." + p.signature),
            "bad_signature");

  std::string sig = p.signature;
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "." + sig), "bad_signature");
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "." + p.signature.substr(0, 40)),
            "bad_signature");
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "."), "bad_signature");
  EXPECT_EQ(reason(verifier, token), "ok");
}

TEST(JwtVerifierHmac, VerifiesTheRfc7515AppendixA1Example) {
  // RFC 7515 A.1: an HS256 JWS from another implementation (CRLF-formatted JSON and a
  // binary key). It has no sub/tenant_id, so a verified signature ends in missing_claim.
  const std::string input =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  const std::string signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  JwtConfig config;
  config.hmac_secret = *auth::base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  JwtVerifier verifier(config);
  const auto then = Clock::time_point(std::chrono::seconds(1300819000));
  EXPECT_EQ(reason(verifier, input + "." + signature, then), "missing_claim");
  EXPECT_EQ(reason(verifier, input + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXA", then),
            "bad_signature");
}

TEST(JwtVerifierAlg, RejectsAlgNoneWithAndWithoutSignature) {
  JwtVerifier verifier(hmac_config());
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    const std::string input = b64_json(header(none)) + "." + b64_json(base_claims());
    EXPECT_EQ(reason(verifier, input + "."), "alg_not_allowed") << none;
    EXPECT_EQ(reason(verifier, input + "." + b64(hmac("SHA256", kSecret, input))),
              "alg_not_allowed")
        << none;
  }
}

TEST(JwtVerifierAlg, RejectsUnknownMissingOrNonStringAlg) {
  JwtVerifier verifier(hmac_config());
  const std::string claims = b64_json(base_claims());
  for (const char* alg : {"PS256", "HS256 ", "hs256", "ES512", "EdDSA", ""}) {
    const std::string input = b64_json(header(alg)) + "." + claims;
    EXPECT_EQ(reason(verifier, input + "." + b64(hmac("SHA256", kSecret, input))),
              "alg_not_allowed")
        << alg;
  }
  EXPECT_EQ(reason(verifier, b64_json({{"typ", "JWT"}}) + "." + claims + ".AAAA"), "malformed");
  EXPECT_EQ(reason(verifier, b64_json({{"alg", 256}}) + "." + claims + ".AAAA"), "malformed");
  EXPECT_EQ(reason(verifier, b64_json({{"alg", json::array{"HS256"}}}) + "." + claims + ".AAAA"),
            "malformed");
}

TEST(JwtVerifierAlg, RejectsCriticalHeaderExtensions) {
  JwtVerifier verifier(hmac_config());
  EXPECT_EQ(reason(verifier, hs_token("HS256", base_claims(), kSecret,
                                      {{"crit", json::array{"b64"}}, {"b64", false}})),
            "malformed");
}

TEST(JwtVerifierAlg, RejectsRsTokenWhenOnlyHmacIsConfigured) {
  JwtVerifier verifier(hmac_config());
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(), "RS256", base_claims())), "alg_not_allowed");
  EXPECT_EQ(reason(verifier, pk_token(ec_key("P-256"), "ES256", base_claims())), "alg_not_allowed");
}

TEST(JwtVerifierStructure, RejectsWrongSegmentCounts) {
  JwtVerifier verifier(hmac_config());
  const std::string token = hs_token("HS256", base_claims());
  const Parts p = parts(token);
  EXPECT_EQ(reason(verifier, p.header), "malformed");
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload), "malformed");
  EXPECT_EQ(reason(verifier, token + "." + p.signature), "malformed");
  EXPECT_EQ(reason(verifier, token + ".."), "malformed");
  EXPECT_EQ(reason(verifier, token + "."), "malformed");
  EXPECT_EQ(reason(verifier, ".."), "malformed");
  EXPECT_EQ(reason(verifier, "...."), "malformed");
  EXPECT_EQ(reason(verifier, "x"), "malformed");
}

TEST(JwtVerifierStructure, EmptyTokenIsMissing) {
  JwtVerifier verifier(hmac_config());
  EXPECT_EQ(reason(verifier, ""), "missing_token");
}

TEST(JwtVerifierStructure, RejectsMalformedBase64InEachSegment) {
  JwtVerifier verifier(hmac_config());
  const Parts p = parts(hs_token("HS256", base_claims()));
  EXPECT_EQ(reason(verifier, p.header + "+." + p.payload + "." + p.signature), "malformed");
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "*." + p.signature), "malformed");
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "." + p.signature + "/"), "malformed");
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "." + p.signature + "AA"),
            "malformed");  // 45 chars
  EXPECT_EQ(reason(verifier, " " + p.header + "." + p.payload + "." + p.signature), "malformed");
  EXPECT_EQ(reason(verifier, "Bearer " + p.header + "." + p.payload + "." + p.signature),
            "malformed");
}

TEST(JwtVerifierStructure, RejectsPaddedSegmentsEvenWhenThePaddedFormIsSigned) {
  JwtVerifier verifier(hmac_config());
  // Pad the claims so that the payload's encoding needs padding.
  json::object claims = base_claims();
  for (std::string pad;; pad += "x") {
    claims["pad"] = pad;
    if (b64_json(claims).size() % 4 != 0) break;
  }
  const std::string token = hs_token("HS256", claims);
  ASSERT_EQ(reason(verifier, token), "ok");
  const Parts p = parts(token);
  std::string payload = p.payload;
  while (payload.size() % 4) payload += '=';
  // The padded form is what gets signed here: a second spelling of the same claims.
  const std::string input = p.header + "." + payload;
  EXPECT_EQ(reason(verifier, input + "." + b64(hmac("SHA256", kSecret, input))), "malformed");
  // A padded signature (43 characters for HS256, so one '=') is a second spelling too.
  ASSERT_EQ(p.signature.size() % 4, 3u);
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "." + p.signature + "="), "malformed");
}

TEST(JwtVerifierStructure, RejectsSignaturesWithSetTrailingBits) {
  JwtVerifier verifier(hmac_config());
  const Parts p = parts(hs_token("HS256", base_claims()));
  // The HS256 signature has 43 characters: its last one carries 2 unused bits. Every
  // other value of them decodes to the same bytes, so it must be refused.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t last = alphabet.find(p.signature.back());
  ASSERT_EQ(last % 4, 0u);
  for (size_t bits = 1; bits < 4; ++bits) {
    std::string signature = p.signature;
    signature.back() = alphabet[last + bits];
    EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "." + signature), "malformed") << bits;
  }
}

TEST(JwtVerifierStructure, RejectsMalformedJson) {
  JwtVerifier verifier(hmac_config());
  const std::string claims = b64_json(base_claims());
  // Header that is not JSON, not an object.
  EXPECT_EQ(reason(verifier, b64("{\"alg\":\"HS256\"") + "." + claims + ".AAAA"), "malformed");
  EXPECT_EQ(reason(verifier, b64("[\"HS256\"]") + "." + claims + ".AAAA"), "malformed");
  EXPECT_EQ(reason(verifier, b64("") + "." + claims + ".AAAA"), "malformed");
  // Correctly signed payloads that are not JSON objects.
  for (std::string_view body : {"{\"sub\":", "[1,2]", "\"sub\"", "not json", ""}) {
    const std::string input = b64_json(header("HS256")) + "." + b64(body);
    EXPECT_EQ(reason(verifier, input + "." + b64(hmac("SHA256", kSecret, input))), "malformed")
        << body;
  }
}

TEST(JwtVerifierStructure, RejectsTokensOver8KiB) {
  JwtVerifier verifier(hmac_config());
  json::object claims = base_claims();
  std::string largest_ok;
  std::string smallest_too_big;
  for (size_t n = 5900; n < 6300 && smallest_too_big.empty(); ++n) {
    claims["pad"] = std::string(n, 'p');
    std::string token = hs_token("HS256", claims);
    if (token.size() <= kMaxTokenBytes) {
      largest_ok = std::move(token);
    } else {
      smallest_too_big = std::move(token);
    }
  }
  ASSERT_GT(largest_ok.size(), kMaxTokenBytes - 4);
  ASSERT_GT(smallest_too_big.size(), kMaxTokenBytes);
  EXPECT_EQ(reason(verifier, largest_ok), "ok");
  EXPECT_EQ(reason(verifier, smallest_too_big), "malformed");
}

TEST(JwtVerifierConfig, RejectsUnusableConfigurations) {
  EXPECT_THROW(JwtVerifier(JwtConfig{}), std::invalid_argument);
  JwtConfig pem_secret;
  pem_secret.hmac_secret = rsa_key().public_pem;
  EXPECT_THROW(JwtVerifier{pem_secret}, std::invalid_argument);
  JwtConfig negative = hmac_config();
  negative.leeway = std::chrono::seconds(-1);
  EXPECT_THROW(JwtVerifier{negative}, std::invalid_argument);
}

TEST(JwtVerifierConfig, MovedVerifierStillWorks) {
  JwtVerifier first(hmac_config());
  JwtVerifier second(std::move(first));
  EXPECT_EQ(reason(second, hs_token("HS256", base_claims())), "ok");
  JwtConfig other;
  other.hmac_secret = "other";
  JwtVerifier third(other);
  third = std::move(second);
  EXPECT_EQ(reason(third, hs_token("HS256", base_claims())), "ok");
}

TEST(MintHs256Token, ProducesTheDocumentedTokenShape) {
  MintOptions options;
  options.secret = std::string(kSecret);
  options.subject = "alice";
  options.tenant_id = "acme";
  options.permissions = {"read", "write", "admin"};
  options.ttl = std::chrono::seconds(120);
  options.issuer = "streamer";
  options.audience = "api";
  const std::string token = mint_hs256_token(options, kNow + std::chrono::milliseconds(900));

  const Parts p = parts(token);
  EXPECT_EQ(p.header, b64(R"({"alg":"HS256","typ":"JWT"})"));
  EXPECT_EQ(p.signature, b64(hmac("SHA256", kSecret, p.header + "." + p.payload)));

  JwtConfig config = hmac_config();
  config.issuer = "streamer";
  config.audience = "api";
  auto result = JwtVerifier(config).verify(token, kNow);
  ASSERT_TRUE(std::holds_alternative<VerifiedToken>(result));
  const auto& verified = std::get<VerifiedToken>(result);
  EXPECT_EQ(verified.identity.user_id, "alice");
  EXPECT_EQ(verified.identity.tenant_id, "acme");
  EXPECT_EQ(verified.identity.permissions, options.permissions);
  EXPECT_EQ(verified.expires_at, kNow + std::chrono::seconds(120));
}

TEST(MintHs256Token, WritesExactClaims) {
  MintOptions options;
  options.secret = "s";
  options.subject = "bob";
  options.tenant_id = "t";
  options.permissions = {};
  const Parts p = parts(mint_hs256_token(options, kNow));
  // Decode with an independent path: re-encode the expected JSON and compare.
  json::object expected{{"sub", "bob"},
                        {"tenant_id", "t"},
                        {"permissions", json::array{}},
                        {"iat", kNowSeconds},
                        {"exp", kNowSeconds + 3600}};
  EXPECT_EQ(p.payload, b64_json(expected));
}

TEST(MintHs256Token, NegativeTtlMakesAnExpiredTokenAndEmptySecretThrows) {
  MintOptions options;
  options.secret = std::string(kSecret);
  options.subject = "u";
  options.tenant_id = "t";
  options.ttl = std::chrono::seconds(-10);
  EXPECT_EQ(reason(JwtVerifier(hmac_config()), mint_hs256_token(options, kNow)), "token_expired");
  options.secret.clear();
  EXPECT_THROW(mint_hs256_token(options, kNow), std::invalid_argument);
}

TEST(MintHs256Token, RefusesIdsThatVerifyWouldRefuse) {
  MintOptions options;
  options.secret = std::string(kSecret);
  options.subject = "u";
  for (std::string tenant :
       {std::string(".."), std::string("a/b"), std::string(65, 't'), std::string()}) {
    options.tenant_id = tenant;
    EXPECT_THROW(mint_hs256_token(options, kNow), std::invalid_argument) << tenant;
  }
  options.tenant_id = "t";
  options.subject = std::string("a\0b", 3);
  EXPECT_THROW(mint_hs256_token(options, kNow), std::invalid_argument);
}

}  // namespace
}  // namespace streamer
