#include "auth/test_tokens.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <map>
#include <stdexcept>
#include <vector>

namespace streamer::testing {
namespace json = boost::json;

std::string b64(std::string_view bytes) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kChars[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kChars[(acc << (6 - bits)) & 63]);
  return out;
}

std::string b64_json(const json::value& value) { return b64(json::serialize(value)); }

json::object base_claims() {
  return {{"sub", "user-1"},
          {"tenant_id", "tenant-1"},
          {"permissions", json::array{"read"}},
          {"iat", kNowSeconds},
          {"exp", kNowSeconds + 600}};
}

json::object header(std::string_view alg, const json::object& extra) {
  json::object h{{"alg", alg}, {"typ", "JWT"}};
  for (const auto& kv : extra) h[kv.key()] = kv.value();
  return h;
}

std::string hmac(std::string_view digest, std::string_view secret, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const EVP_MD* md = EVP_get_digestbyname(std::string(digest).c_str());
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string digest_for(std::string_view alg) { return "SHA" + std::string(alg.substr(2)); }

namespace {

std::string bn_param(EVP_PKEY* key, const char* name, size_t width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("bn param");
  std::string out(width ? width : static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

KeyPair make_pair(EVP_PKEY* raw, std::string curve) {
  KeyPair pair;
  pair.key.reset(raw, EVP_PKEY_free);
  pair.curve = std::move(curve);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, raw);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  pair.public_pem.assign(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pair;
}

}  // namespace

json::object KeyPair::jwk(std::string_view kid) const {
  json::object out;
  if (curve.empty()) {
    out = {{"kty", "RSA"},
           {"n", b64(bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N))},
           {"e", b64(bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E))}};
  } else {
    const size_t width = curve == "P-256" ? 32 : 48;
    out = {{"kty", "EC"},
           {"crv", curve},
           {"x", b64(bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, width))},
           {"y", b64(bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, width))}};
  }
  if (!kid.empty()) out["kid"] = kid;
  return out;
}

std::string KeyPair::sign_der(std::string_view digest, std::string_view data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit_ex(ctx, nullptr, std::string(digest).c_str(), nullptr, nullptr, key.get(),
                            nullptr) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) == 1) {
    sig.resize(len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (sig.empty()) throw std::runtime_error("signing failed");
  return sig;
}

std::string KeyPair::sign(std::string_view digest, std::string_view data) const {
  std::string der = sign_der(digest, data);
  if (curve.empty()) return der;
  const int width = curve == "P-256" ? 32 : 48;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  std::string out(2 * width, '\0');
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(out.data()), width);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + width, width);
  ECDSA_SIG_free(sig);
  return out;
}

const KeyPair& rsa_key(int index) {
  static std::map<int, KeyPair> cache;
  auto it = cache.find(index);
  if (it == cache.end()) {
    it =
        cache
            .emplace(index, make_pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), ""))
            .first;
  }
  return it->second;
}

const KeyPair& ec_key(std::string_view curve, int index) {
  static std::map<std::pair<std::string, int>, KeyPair> cache;
  const auto id = std::make_pair(std::string(curve), index);
  auto it = cache.find(id);
  if (it == cache.end()) {
    EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", std::string(curve).c_str());
    it = cache.emplace(id, make_pair(raw, std::string(curve))).first;
  }
  return it->second;
}

std::string hs_token(std::string_view alg, const json::object& claims, std::string_view secret,
                     const json::object& extra) {
  const std::string input = b64_json(header(alg, extra)) + "." + b64_json(claims);
  return input + "." + b64(hmac(digest_for(alg), secret, input));
}

std::string pk_token(const KeyPair& key, std::string_view alg, const json::object& claims,
                     const json::object& extra) {
  const std::string input = b64_json(header(alg, extra)) + "." + b64_json(claims);
  return input + "." + b64(key.sign(digest_for(alg), input));
}

Parts parts(const std::string& token) {
  const size_t a = token.find('.');
  const size_t b = token.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos) throw std::runtime_error("not a JWS");
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

}  // namespace streamer::testing
