// JwtVerifier with RSA and EC keys from PEM and JWKS: every RS*/ES* algorithm, kid
// selection, key/alg mismatches and algorithm confusion.
#include <gtest/gtest.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <thread>

#include "auth/jwt_verifier.hpp"
#include "auth/test_tokens.hpp"

namespace streamer {
namespace {

namespace json = boost::json;
using namespace streamer::testing;

JwtConfig pem_config(const KeyPair& key) {
  JwtConfig config;
  config.public_key_pem = key.public_pem;
  return config;
}

JwtConfig jwks_config(json::array keys) {
  JwtConfig config;
  config.jwks_json = json::serialize(json::object{{"keys", std::move(keys)}});
  return config;
}

std::string reason(const JwtVerifier& verifier, std::string_view token) {
  auto result = verifier.verify(token, kNow);
  if (auto* e = std::get_if<JwtError>(&result)) return e->reason;
  const auto& identity = std::get<VerifiedToken>(result).identity;
  EXPECT_EQ(identity.user_id, "user-1");
  EXPECT_EQ(identity.tenant_id, "tenant-1");
  return "ok";
}

TEST(JwtVerifierRsa, AcceptsRs256Rs384Rs512WithPem) {
  JwtVerifier verifier(pem_config(rsa_key()));
  for (const char* alg : {"RS256", "RS384", "RS512"}) {
    EXPECT_EQ(reason(verifier, pk_token(rsa_key(), alg, base_claims())), "ok") << alg;
  }
}

TEST(JwtVerifierRsa, RejectsOtherKeyTamperingAndWrongDigest) {
  JwtVerifier verifier(pem_config(rsa_key()));
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(1), "RS256", base_claims())), "bad_signature");
  const Parts p = parts(pk_token(rsa_key(), "RS256", base_claims()));
  json::object claims = base_claims();
  claims["tenant_id"] = "other";
  EXPECT_EQ(reason(verifier, p.header + "." + b64_json(claims) + "." + p.signature),
            "bad_signature");
  std::string sig = p.signature;
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "." + sig), "bad_signature");
  EXPECT_EQ(reason(verifier, p.header + "." + p.payload + "."), "bad_signature");
  // RS256 header, SHA-384 signature.
  const std::string input = b64_json(header("RS256")) + "." + b64_json(base_claims());
  EXPECT_EQ(reason(verifier, input + "." + b64(rsa_key().sign("SHA384", input))), "bad_signature");
}

TEST(JwtVerifierEc, AcceptsEs256AndEs384WithPem) {
  EXPECT_EQ(reason(JwtVerifier(pem_config(ec_key("P-256"))),
                   pk_token(ec_key("P-256"), "ES256", base_claims())),
            "ok");
  EXPECT_EQ(reason(JwtVerifier(pem_config(ec_key("P-384"))),
                   pk_token(ec_key("P-384"), "ES384", base_claims())),
            "ok");
}

TEST(JwtVerifierEc, RejectsDerSignaturesWrongLengthsAndTampering) {
  JwtVerifier verifier(pem_config(ec_key("P-256")));
  const std::string input = b64_json(header("ES256")) + "." + b64_json(base_claims());
  // OpenSSL's DER form is valid ECDSA but not the JOSE format.
  EXPECT_EQ(reason(verifier, input + "." + b64(ec_key("P-256").sign_der("SHA256", input))),
            "bad_signature");
  const std::string jose = ec_key("P-256").sign("SHA256", input);
  ASSERT_EQ(jose.size(), 64u);
  EXPECT_EQ(reason(verifier, input + "." + b64(jose)), "ok");
  EXPECT_EQ(reason(verifier, input + "." + b64(jose.substr(0, 63))), "bad_signature");
  EXPECT_EQ(reason(verifier, input + "." + b64(jose + '\0')), "bad_signature");
  std::string flipped = jose;
  flipped[40] ^= 1;
  EXPECT_EQ(reason(verifier, input + "." + b64(flipped)), "bad_signature");
  EXPECT_EQ(reason(verifier, pk_token(ec_key("P-256", 1), "ES256", base_claims())),
            "bad_signature");
}

TEST(JwtVerifierKeyType, AlgMustMatchTheConfiguredKeyType) {
  JwtVerifier rsa(pem_config(rsa_key()));
  EXPECT_EQ(reason(rsa, pk_token(ec_key("P-256"), "ES256", base_claims())), "alg_not_allowed");
  JwtVerifier p256(pem_config(ec_key("P-256")));
  EXPECT_EQ(reason(p256, pk_token(rsa_key(), "RS256", base_claims())), "alg_not_allowed");
  EXPECT_EQ(reason(p256, pk_token(ec_key("P-384"), "ES384", base_claims())), "alg_not_allowed");
  JwtVerifier p384(pem_config(ec_key("P-384")));
  EXPECT_EQ(reason(p384, pk_token(ec_key("P-256"), "ES256", base_claims())), "alg_not_allowed");
}

TEST(JwtVerifierConfusion, HsTokenSignedWithThePublicKeyPemIsRejected) {
  const std::string& pem = rsa_key().public_pem;
  // Only a PEM key: HS* is not enabled at all.
  JwtVerifier pem_only(pem_config(rsa_key()));
  EXPECT_EQ(reason(pem_only, hs_token("HS256", base_claims(), pem)), "alg_not_allowed");
  EXPECT_EQ(reason(pem_only, hs_token("HS512", base_claims(), pem)), "alg_not_allowed");
  // Both configured: HS* uses the real secret, never the PEM.
  JwtConfig both = pem_config(rsa_key());
  both.hmac_secret = std::string(kSecret);
  JwtVerifier verifier(both);
  EXPECT_EQ(reason(verifier, hs_token("HS256", base_claims(), pem)), "bad_signature");
  EXPECT_EQ(reason(verifier, hs_token("HS256", base_claims())), "ok");
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(), "RS256", base_claims())), "ok");
  // JWKS only: the JWK's JSON is no HMAC key either.
  JwtVerifier jwks(jwks_config({rsa_key().jwk("k1")}));
  EXPECT_EQ(reason(jwks, hs_token("HS256", base_claims(), json::serialize(rsa_key().jwk("k1")))),
            "alg_not_allowed");
}

TEST(JwtVerifierPem, AcceptsPkcs1RsaPublicKeyAndSurroundingText) {
  OSSL_ENCODER_CTX* ctx = OSSL_ENCODER_CTX_new_for_pkey(rsa_key().key.get(), EVP_PKEY_PUBLIC_KEY,
                                                        "PEM", "type-specific", nullptr);
  unsigned char* data = nullptr;
  size_t len = 0;
  ASSERT_EQ(OSSL_ENCODER_to_data(ctx, &data, &len), 1);
  OSSL_ENCODER_CTX_free(ctx);
  JwtConfig config;
  config.public_key_pem.assign(reinterpret_cast<char*>(data), len);
  OPENSSL_free(data);
  ASSERT_NE(config.public_key_pem.find("BEGIN RSA PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(reason(JwtVerifier(config), pk_token(rsa_key(), "RS256", base_claims())), "ok");

  config.public_key_pem = "# comment line\n" + rsa_key().public_pem + "\n";
  EXPECT_EQ(reason(JwtVerifier(config), pk_token(rsa_key(), "RS256", base_claims())), "ok");
}

TEST(JwtVerifierPem, AcceptsTheSubjectKeyOfACertificate) {
  const KeyPair& key = ec_key("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("issuer"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  ASSERT_GT(X509_sign(cert, key.key.get(), EVP_sha256()), 0);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  JwtConfig config;
  config.public_key_pem.assign(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(cert);
  JwtVerifier verifier(config);
  EXPECT_EQ(reason(verifier, pk_token(key, "ES256", base_claims())), "ok");
  EXPECT_EQ(reason(verifier, pk_token(ec_key("P-256", 1), "ES256", base_claims())),
            "bad_signature");
}

TEST(JwtVerifierPem, BadPemThrowsInvalidArgument) {
  const std::string pem = rsa_key().public_pem;
  std::string corrupted = pem;
  corrupted[pem.find('\n') + 20] = '!';
  const std::string private_pem =
      "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
  for (const std::string& bad :
       {std::string("not a pem"), pem.substr(0, pem.size() / 2), corrupted, pem + pem, private_pem,
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    JwtConfig config;
    config.public_key_pem = bad;
    EXPECT_THROW(JwtVerifier{config}, std::invalid_argument) << bad;
  }
  // Keys we refuse on purpose: short RSA, unsupported curve.
  std::shared_ptr<EVP_PKEY> small(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}),
                                  EVP_PKEY_free);
  std::shared_ptr<EVP_PKEY> p521(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"), EVP_PKEY_free);
  for (EVP_PKEY* key : {small.get(), p521.get()}) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    JwtConfig config;
    config.public_key_pem.assign(data, static_cast<size_t>(len));
    BIO_free(bio);
    EXPECT_THROW(JwtVerifier{config}, std::invalid_argument);
  }
}

TEST(JwtVerifierJwks, AcceptsEveryAlgorithmFromJwk) {
  EXPECT_EQ(reason(JwtVerifier(jwks_config({rsa_key().jwk()})),
                   pk_token(rsa_key(), "RS384", base_claims())),
            "ok");
  EXPECT_EQ(reason(JwtVerifier(jwks_config({ec_key("P-256").jwk()})),
                   pk_token(ec_key("P-256"), "ES256", base_claims())),
            "ok");
  EXPECT_EQ(reason(JwtVerifier(jwks_config({ec_key("P-384").jwk()})),
                   pk_token(ec_key("P-384"), "ES384", base_claims())),
            "ok");
}

TEST(JwtVerifierJwks, SelectsKeyByKid) {
  JwtVerifier verifier(jwks_config({rsa_key(0).jwk("key-a"), rsa_key(1).jwk("key-b")}));
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(0), "RS256", base_claims(), {{"kid", "key-a"}})),
            "ok");
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(1), "RS256", base_claims(), {{"kid", "key-b"}})),
            "ok");
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(1), "RS256", base_claims(), {{"kid", "key-a"}})),
            "bad_signature");
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(0), "RS256", base_claims(), {{"kid", "key-c"}})),
            "unknown_key");
  // Two RSA keys and no kid: ambiguous.
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(0), "RS256", base_claims())), "unknown_key");
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(0), "RS256", base_claims(), {{"kid", 7}})),
            "malformed");
}

TEST(JwtVerifierJwks, WithoutKidUsesTheOnlyKeyOfTheMatchingType) {
  JwtVerifier verifier(jwks_config({rsa_key().jwk("r"), ec_key("P-256").jwk("e")}));
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(), "RS256", base_claims())), "ok");
  EXPECT_EQ(reason(verifier, pk_token(ec_key("P-256"), "ES256", base_claims())), "ok");
  EXPECT_EQ(reason(verifier, pk_token(ec_key("P-384"), "ES384", base_claims())), "alg_not_allowed");
  // kid naming a key of the other type.
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(), "RS256", base_claims(), {{"kid", "e"}})),
            "alg_not_allowed");
}

TEST(JwtVerifierJwks, HonoursJwkAlgAndUse) {
  json::object rs256 = rsa_key().jwk("k");
  rs256["alg"] = "RS256";
  JwtVerifier verifier(jwks_config({rs256}));
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(), "RS256", base_claims(), {{"kid", "k"}})), "ok");
  EXPECT_EQ(reason(verifier, pk_token(rsa_key(), "RS512", base_claims(), {{"kid", "k"}})),
            "alg_not_allowed");
  // An encryption key is skipped; with nothing else left, the JWKS is unusable.
  json::object enc = rsa_key().jwk("k");
  enc["use"] = "enc";
  EXPECT_THROW(JwtVerifier(jwks_config({enc})), std::invalid_argument);
  // Unsupported key types are skipped when a usable key remains.
  json::object oct{{"kty", "oct"}, {"k", "c2VjcmV0"}};
  EXPECT_EQ(reason(JwtVerifier(jwks_config({oct, rsa_key().jwk()})),
                   pk_token(rsa_key(), "RS256", base_claims())),
            "ok");
}

TEST(JwtVerifierJwks, BadJwksThrowsInvalidArgument) {
  auto throws = [](const std::string& text) {
    JwtConfig config;
    config.jwks_json = text;
    EXPECT_THROW(JwtVerifier{config}, std::invalid_argument) << text;
  };
  throws("not json");
  throws("[]");
  throws(R"({"keys": {}})");
  throws(R"({"keys": []})");
  throws(R"({"keys": [{"kty": "oct", "k": "AAAA"}]})");
  throws(R"({"keys": [{"kty": "RSA", "n": "AQAB"}]})");
  throws(R"({"keys": [{"kty": "RSA", "n": "++++", "e": "AQAB"}]})");
  json::object short_x = ec_key("P-256").jwk();
  short_x["x"] = b64(std::string(31, 'x'));
  throws(json::serialize(json::object{{"keys", json::array{short_x}}}));
  json::object off_curve = ec_key("P-256").jwk();
  off_curve["y"] = off_curve["x"];
  throws(json::serialize(json::object{{"keys", json::array{off_curve}}}));
  throws(json::serialize(
      json::object{{"keys", json::array{rsa_key(0).jwk("same"), rsa_key(1).jwk("same")}}}));
}

TEST(JwtVerifierThreads, ConcurrentVerificationIsSafe) {
  JwtConfig config = jwks_config({rsa_key().jwk("r"), ec_key("P-256").jwk("e")});
  config.hmac_secret = std::string(kSecret);
  const JwtVerifier verifier(config);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {pk_token(rsa_key(), "RS256", base_claims(), {{"kid", "r"}}), "ok"},
      {pk_token(ec_key("P-256"), "ES256", base_claims(), {{"kid", "e"}}), "ok"},
      {pk_token(rsa_key(1), "RS256", base_claims(), {{"kid", "r"}}), "bad_signature"},
      {hs_token("HS512", base_claims()), "ok"},
  };
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const auto& [token, expected] = cases[(t + i) % cases.size()];
        auto result = verifier.verify(token, kNow);
        const std::string got =
            std::holds_alternative<JwtError>(result) ? std::get<JwtError>(result).reason : "ok";
        if (got != expected) ++mismatches;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace streamer
