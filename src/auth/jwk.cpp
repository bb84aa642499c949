// JWKS loading for JwtConfig::jwks_json (RFC 7517, RFC 7518 §6).
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json.hpp>
#include <memory>
#include <set>
#include <stdexcept>

#include "auth/base64url.hpp"
#include "auth/public_key.hpp"

namespace streamer::auth {
namespace {

namespace json = boost::json;

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};

[[noreturn]] void fail(const std::string& message) {
  ERR_clear_error();
  throw std::invalid_argument("JWKS: " + message);
}

// The optional string member `name`; throws when present but not a string.
std::string optional_string(const json::object& jwk, std::string_view name) {
  const json::value* v = jwk.if_contains(name);
  if (!v) return {};
  if (!v->is_string()) fail(std::string("\"") + std::string(name) + "\" must be a string");
  return std::string(v->get_string());
}

// The required base64url member `name`, decoded.
std::string required_bytes(const json::object& jwk, std::string_view name) {
  const json::value* v = jwk.if_contains(name);
  if (!v || !v->is_string()) fail(std::string("key without \"") + std::string(name) + "\"");
  auto decoded = base64url_decode(std::string_view(v->get_string()));
  if (!decoded || decoded->empty()) {
    fail(std::string("\"") + std::string(name) + "\" is not base64url");
  }
  return *decoded;
}

// Builds a public EVP_PKEY of `type` ("RSA" or "EC") from `params`.
EVP_PKEY* from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    fail(std::string("cannot build ") + type + " key");
  }
  return pkey;
}

EVP_PKEY* rsa_key(const json::object& jwk) {
  const std::string n = required_bytes(jwk, "n");
  const std::string e = required_bytes(jwk, "e");
  std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                                                 static_cast<int>(n.size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                                                 static_cast<int>(e.size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || BN_is_zero(bn_e.get()) ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    fail("bad RSA key");
  }
  return from_params("RSA", bld.get());
}

// nullptr for a curve we do not support (the key is skipped).
EVP_PKEY* ec_key(const json::object& jwk) {
  const std::string crv = optional_string(jwk, "crv");
  size_t width = 0;
  const char* group = nullptr;
  if (crv == "P-256") {
    width = 32;
    group = "prime256v1";
  } else if (crv == "P-384") {
    width = 48;
    group = "secp384r1";
  } else {
    return nullptr;
  }
  const std::string x = required_bytes(jwk, "x");
  const std::string y = required_bytes(jwk, "y");
  if (x.size() != width || y.size() != width) fail("EC coordinates have the wrong length");
  std::string point = "\x04" + x + y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    fail("bad EC key");
  }
  return from_params("EC", bld.get());
}

}  // namespace

std::vector<PublicKey> load_jwks(std::string_view text) {
  json::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) fail("not a JSON object");
  const json::value* keys = doc.get_object().if_contains("keys");
  if (!keys || !keys->is_array()) fail("no \"keys\" array");

  std::vector<PublicKey> out;
  std::set<std::string> kids;
  for (const json::value& item : keys->get_array()) {
    if (!item.is_object()) fail("a key is not an object");
    const json::object& jwk = item.get_object();
    const std::string kty = optional_string(jwk, "kty");
    const std::string use = optional_string(jwk, "use");
    const std::string kid = optional_string(jwk, "kid");
    const std::string alg = optional_string(jwk, "alg");
    if (!use.empty() && use != "sig") continue;
    if (!alg.empty() && (!parse_alg(alg) || alg_family(*parse_alg(alg)) == AlgFamily::kHmac)) {
      continue;  // e.g. RSA-OAEP or PS256 keys: not ours to use
    }
    EVP_PKEY* pkey = nullptr;
    if (kty == "RSA") {
      pkey = rsa_key(jwk);
    } else if (kty == "EC") {
      pkey = ec_key(jwk);
      if (!pkey) continue;
    } else {
      continue;  // "oct", "OKP", ...: unsupported, skipped
    }
    PublicKey key = make_public_key(pkey, kid, alg);
    if (!kid.empty() && !kids.insert(kid).second) fail("duplicate kid \"" + kid + "\"");
    out.push_back(std::move(key));
  }
  if (out.empty()) fail("no usable RSA or EC signing key");
  return out;
}

}  // namespace streamer::auth
