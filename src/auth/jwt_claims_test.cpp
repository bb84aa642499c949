// JwtVerifier claim checks (exp/nbf/iat boundaries, iss/aud, required claims, types),
// on HS256 tokens.
#include <gtest/gtest.h>

#include "auth/jwt_verifier.hpp"
#include "auth/test_tokens.hpp"

namespace streamer {
namespace {

namespace json = boost::json;
using namespace streamer::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

class JwtClaims : public ::testing::Test {
 protected:
  JwtClaims() { config_.hmac_secret = std::string(kSecret); }

  // verify() on `claims`, signed correctly; "ok" or the reason.
  std::string check(const json::object& claims, Clock::time_point now = kNow) const {
    auto result = JwtVerifier(config_).verify(hs_token("HS256", claims), now);
    if (auto* e = std::get_if<JwtError>(&result)) return e->reason;
    return "ok";
  }
  // base_claims() with `name` set to `value`.
  std::string with(std::string_view name, json::value value) const {
    json::object claims = base_claims();
    claims[name] = std::move(value);
    return check(claims);
  }
  std::string without(std::string_view name) const {
    json::object claims = base_claims();
    claims.erase(name);
    return check(claims);
  }

  JwtConfig config_;
};

TEST_F(JwtClaims, ExpIsStrict) {
  EXPECT_EQ(with("exp", kNowSeconds - 1), "token_expired");
  EXPECT_EQ(with("exp", kNowSeconds), "token_expired");  // exactly now: expired
  EXPECT_EQ(with("exp", kNowSeconds + 1), "ok");
  json::object claims = base_claims();
  claims["exp"] = kNowSeconds + 1;
  EXPECT_EQ(check(claims, kNow + milliseconds(999)), "ok");
  EXPECT_EQ(check(claims, kNow + milliseconds(1000)), "token_expired");
}

TEST_F(JwtClaims, ExpLeewayExtendsValidityAndExpiresAt) {
  config_.exp_leeway = seconds(5);
  EXPECT_EQ(with("exp", kNowSeconds - 4), "ok");
  EXPECT_EQ(with("exp", kNowSeconds - 5), "token_expired");
  json::object claims = base_claims();
  auto result = JwtVerifier(config_).verify(hs_token("HS256", claims), kNow);
  ASSERT_TRUE(std::holds_alternative<VerifiedToken>(result));
  EXPECT_EQ(std::get<VerifiedToken>(result).expires_at, kNow + seconds(605));
}

TEST_F(JwtClaims, FractionalAndHugeExp) {
  EXPECT_EQ(with("exp", kNowSeconds + 10.5), "ok");
  EXPECT_EQ(with("exp", static_cast<double>(kNowSeconds) - 0.5), "token_expired");
  EXPECT_EQ(with("exp", 1e300), "ok");
  EXPECT_EQ(with("exp", std::numeric_limits<uint64_t>::max()), "ok");
  EXPECT_EQ(with("exp", -1e300), "token_expired");
}

TEST_F(JwtClaims, NbfAllowsLeeway) {
  EXPECT_EQ(with("nbf", kNowSeconds + 61), "not_yet_valid");
  EXPECT_EQ(with("nbf", kNowSeconds + 60), "ok");
  EXPECT_EQ(with("nbf", kNowSeconds + 30), "ok");
  EXPECT_EQ(with("nbf", kNowSeconds - 100), "ok");
  config_.leeway = seconds(0);
  EXPECT_EQ(with("nbf", kNowSeconds + 1), "not_yet_valid");
  EXPECT_EQ(with("nbf", kNowSeconds), "ok");
}

TEST_F(JwtClaims, IatInTheFutureBeyondLeeway) {
  EXPECT_EQ(with("iat", kNowSeconds + 61), "issued_in_future");
  EXPECT_EQ(with("iat", kNowSeconds + 60), "ok");
  EXPECT_EQ(with("iat", kNowSeconds - 3600), "ok");
  EXPECT_EQ(without("iat"), "ok");
}

TEST_F(JwtClaims, RequiredClaims) {
  EXPECT_EQ(without("sub"), "missing_claim");
  EXPECT_EQ(without("tenant_id"), "missing_claim");
  EXPECT_EQ(without("exp"), "missing_claim");
  EXPECT_EQ(with("sub", ""), "missing_claim");
  EXPECT_EQ(with("tenant_id", ""), "missing_claim");
  EXPECT_EQ(check(json::object{}), "missing_claim");
}

TEST_F(JwtClaims, TenantIdMustBeAValidTenantId) {
  using namespace std::string_literals;
  for (const std::string& bad : {".."s, "."s, ".hidden"s, "a/b"s, "a\\b"s, "a b"s, "x\0y"s, "\0"s,
                                 std::string(65, 'a'), std::string(200, 'a'), "caf\xc3\xa9"s}) {
    EXPECT_EQ(with("tenant_id", json::string(bad)), "invalid_tenant_id") << bad;
  }
  for (const std::string& good : {"a.b"s, "a_b"s, "x-2e2e"s, "T-1"s, std::string(64, 'a')}) {
    EXPECT_EQ(with("tenant_id", json::string(good)), "ok") << good;
  }
}

TEST_F(JwtClaims, SubMustBeAValidUserId) {
  using namespace std::string_literals;
  for (const std::string& bad : {"a\0b"s, "line\nbreak"s, "\x1b[2J"s, std::string(257, 'u')}) {
    EXPECT_EQ(with("sub", json::string(bad)), "invalid_user_id") << bad;
  }
  for (const std::string& good :
       {"alice@example.com"s, "auth0|abc"s, "a b"s, std::string(256, 'u')}) {
    EXPECT_EQ(with("sub", json::string(good)), "ok") << good;
  }
}

TEST_F(JwtClaims, InvalidIdsAreRefusedWithoutEchoingThem) {
  json::object claims = base_claims();
  claims["tenant_id"] = "evil\nid";
  auto result = JwtVerifier(config_).verify(hs_token("HS256", claims), kNow);
  ASSERT_TRUE(std::holds_alternative<JwtError>(result));
  EXPECT_EQ(std::get<JwtError>(result).message.find("evil"), std::string::npos);
}

TEST_F(JwtClaims, WrongTypesAreMalformed) {
  EXPECT_EQ(with("sub", 42), "malformed");
  EXPECT_EQ(with("sub", nullptr), "malformed");
  EXPECT_EQ(with("tenant_id", json::array{"t"}), "malformed");
  EXPECT_EQ(with("exp", json::string(std::to_string(kNowSeconds + 600))), "malformed");
  EXPECT_EQ(with("exp", true), "malformed");
  EXPECT_EQ(with("exp", nullptr), "malformed");
  EXPECT_EQ(with("nbf", "0"), "malformed");
  EXPECT_EQ(with("iat", false), "malformed");
  EXPECT_EQ(with("permissions", "read"), "malformed");
  EXPECT_EQ(with("permissions", json::array{"read", 1}), "malformed");
  EXPECT_EQ(with("permissions", json::array{"read", nullptr}), "malformed");
  EXPECT_EQ(with("permissions", json::object{{"read", true}}), "malformed");
  EXPECT_EQ(with("iss", 1), "malformed");
  EXPECT_EQ(with("aud", 1), "malformed");
  EXPECT_EQ(with("aud", json::array{"api", 2}), "malformed");
}

TEST_F(JwtClaims, PermissionsBecomeIdentityPermissions) {
  json::object claims = base_claims();
  claims["permissions"] = json::array{"read", "write", "admin"};
  auto result = JwtVerifier(config_).verify(hs_token("HS256", claims), kNow);
  ASSERT_TRUE(std::holds_alternative<VerifiedToken>(result));
  EXPECT_EQ(std::get<VerifiedToken>(result).identity.permissions,
            (std::vector<std::string>{"read", "write", "admin"}));
  claims.erase("permissions");
  result = JwtVerifier(config_).verify(hs_token("HS256", claims), kNow);
  ASSERT_TRUE(std::holds_alternative<VerifiedToken>(result));
  EXPECT_TRUE(std::get<VerifiedToken>(result).identity.permissions.empty());
}

TEST_F(JwtClaims, IssuerCheckedWhenConfigured) {
  EXPECT_EQ(with("iss", "anyone"), "ok");  // not configured: not checked
  config_.issuer = "https://issuer.example";
  EXPECT_EQ(with("iss", "https://issuer.example"), "ok");
  EXPECT_EQ(with("iss", "https://evil.example"), "wrong_issuer");
  EXPECT_EQ(with("iss", "https://issuer.example/"), "wrong_issuer");
  EXPECT_EQ(without("iss"), "missing_claim");
}

TEST_F(JwtClaims, AudienceCheckedWhenConfiguredAsStringOrArray) {
  EXPECT_EQ(with("aud", "whatever"), "ok");  // not configured: not checked
  config_.audience = "streamer-api";
  EXPECT_EQ(with("aud", "streamer-api"), "ok");
  EXPECT_EQ(with("aud", "other-api"), "wrong_audience");
  EXPECT_EQ(with("aud", json::array{"other-api", "streamer-api"}), "ok");
  EXPECT_EQ(with("aud", json::array{"other-api", "streamer"}), "wrong_audience");
  EXPECT_EQ(with("aud", json::array{}), "wrong_audience");
  EXPECT_EQ(without("aud"), "missing_claim");
}

TEST_F(JwtClaims, SignatureIsCheckedBeforeClaims) {
  json::object claims = base_claims();
  claims["exp"] = kNowSeconds - 100;
  claims.erase("sub");
  auto result = JwtVerifier(config_).verify(hs_token("HS256", claims, "wrong-secret"), kNow);
  ASSERT_TRUE(std::holds_alternative<JwtError>(result));
  EXPECT_EQ(std::get<JwtError>(result).reason, "bad_signature");
}

}  // namespace
}  // namespace streamer
