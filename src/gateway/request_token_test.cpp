#include "gateway/request_token.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>

namespace streamer {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::system_clock;

HttpRequest request(std::initializer_list<std::string_view> authorization_headers = {}) {
  HttpRequest req{http::verb::get, "/production", 11};
  for (std::string_view value : authorization_headers)
    req.insert(http::field::authorization, value);
  return req;
}

// The token, or "error:<reason>".
std::string token_of(const HttpRequest& req, std::string_view query) {
  auto result = extract_token(req, query);
  if (auto* e = std::get_if<JwtError>(&result)) return "error:" + e->reason;
  return std::get<std::string>(result);
}

TEST(ExtractToken, TakesTheQueryParameterOrTheBearerHeader) {
  EXPECT_EQ(token_of(request(), "Authorization=abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(token_of(request(), "x=1&Authorization=abc&y=2"), "abc");
  EXPECT_EQ(token_of(request({"Bearer abc"}), ""), "abc");
  EXPECT_EQ(token_of(request({"bEaReR   abc"}), ""), "abc");
  EXPECT_EQ(token_of(request(), ""), "");
  EXPECT_EQ(token_of(request(), "authorization=abc"), "");  // the parameter name is exact
}

TEST(ExtractToken, OtherSchemesCarryNoToken) {
  EXPECT_EQ(token_of(request({"Basic dXNlcjpwYXNz"}), ""), "");
  EXPECT_EQ(token_of(request({"Basic dXNlcjpwYXNz"}), "Authorization=abc"), "abc");
  EXPECT_EQ(token_of(request({"Bearer"}), ""), "");
}

TEST(ExtractToken, EqualCopiesAreOneToken) {
  EXPECT_EQ(token_of(request({"Bearer abc"}), "Authorization=abc"), "abc");
  EXPECT_EQ(token_of(request({"Bearer abc", "Bearer abc"}), "Authorization=abc&Authorization=abc"),
            "abc");
  // The query value is compared after percent-decoding.
  EXPECT_EQ(token_of(request({"Bearer a.b"}), "Authorization=a%2Eb"), "a.b");
}

TEST(ExtractToken, DifferentCopiesAreRefusedWhereverTheyAre) {
  EXPECT_EQ(token_of(request({"Bearer header-token"}), "Authorization=query-token"),
            "error:conflicting_tokens");
  EXPECT_EQ(token_of(request(), "Authorization=one&Authorization=two"), "error:conflicting_tokens");
  EXPECT_EQ(token_of(request({"Bearer one", "Bearer two"}), ""), "error:conflicting_tokens");
  EXPECT_EQ(token_of(request({"Bearer abc"}), "Authorization="), "error:conflicting_tokens");
  EXPECT_EQ(token_of(request({"Bearer abc", "Basic x"}), "Authorization=abd"),
            "error:conflicting_tokens");
}

TEST(ExtractToken, ConflictMessageNamesNoToken) {
  auto result = extract_token(request({"Bearer secret-one"}), "Authorization=secret-two");
  ASSERT_TRUE(std::holds_alternative<JwtError>(result));
  EXPECT_EQ(std::get<JwtError>(result).message.find("secret"), std::string::npos);
}

class Authenticate : public ::testing::Test {
 protected:
  Authenticate()
      : verifier_([] {
          JwtConfig c;
          c.hmac_secret = "request-token-test-secret";
          return c;
        }()) {}

  std::string mint(std::string tenant, std::string sub = "user-1") const {
    MintOptions o;
    o.secret = "request-token-test-secret";
    o.subject = std::move(sub);
    o.tenant_id = std::move(tenant);
    return mint_hs256_token(o, Clock::now());
  }
  // "ok:<tenant>" or the refusal reason.
  std::string outcome(const HttpRequest& req, std::string_view query) const {
    auto result = authenticate(verifier_, req, query, Clock::now());
    if (auto* e = std::get_if<JwtError>(&result)) return e->reason;
    return "ok:" + std::get<VerifiedToken>(result).identity.tenant_id;
  }

  JwtVerifier verifier_;
};

TEST_F(Authenticate, VerifiesTheOneTokenOfTheRequest) {
  const std::string a = mint("tenant-a");
  const std::string b = mint("tenant-b");
  EXPECT_EQ(outcome(request(), "Authorization=" + a), "ok:tenant-a");
  EXPECT_EQ(outcome(request({"Bearer " + b}), ""), "ok:tenant-b");
  EXPECT_EQ(outcome(request({"Bearer " + a}), "Authorization=" + a), "ok:tenant-a");
  // Two valid tokens of different tenants: neither identity is taken.
  EXPECT_EQ(outcome(request({"Bearer " + b}), "Authorization=" + a), "conflicting_tokens");
  EXPECT_EQ(outcome(request(), ""), "missing_token");
  EXPECT_EQ(outcome(request({"Bearer not-a-jwt"}), ""), "malformed");
}

}  // namespace
}  // namespace streamer
