#include "auth/public_key.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace streamer::auth {
namespace {

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};

[[noreturn]] void fail(const std::string& message) {
  ERR_clear_error();
  throw std::invalid_argument(message);
}

}  // namespace

bool key_matches_alg(KeyType type, Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kRS384:
    case Alg::kRS512:
      return type == KeyType::kRsa;
    case Alg::kES256:
      return type == KeyType::kEcP256;
    case Alg::kES384:
      return type == KeyType::kEcP384;
    default:
      return false;
  }
}

PublicKey make_public_key(EVP_PKEY* raw, std::string kid, std::string alg) {
  PublicKey key;
  key.pkey.reset(raw, EVP_PKEY_free);
  key.kid = std::move(kid);
  key.alg = std::move(alg);
  if (!raw) fail("no public key");
  if (EVP_PKEY_is_a(raw, "RSA")) {
    if (EVP_PKEY_get_bits(raw) < 2048) fail("RSA key shorter than 2048 bits");
    key.type = KeyType::kRsa;
  } else if (EVP_PKEY_is_a(raw, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(raw, group, sizeof(group), &len) != 1) fail("EC key without curve");
    const std::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256" || name == "secp256r1") {
      key.type = KeyType::kEcP256;
    } else if (name == "secp384r1" || name == "P-384") {
      key.type = KeyType::kEcP384;
    } else {
      fail("unsupported EC curve (P-256 and P-384 are supported)");
    }
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
        EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) fail("EC public key is not on its curve");
  } else {
    fail("unsupported public key type (RSA and EC are supported)");
  }
  if (!key.alg.empty()) {
    auto parsed = parse_alg(key.alg);
    if (!parsed || !key_matches_alg(key.type, *parsed)) fail("key \"alg\" does not fit the key");
  }
  return key;
}

}  // namespace streamer::auth
