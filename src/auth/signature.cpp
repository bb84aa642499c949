#include "auth/signature.hpp"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>

namespace streamer::auth {
namespace {

struct Entry {
  Alg alg;
  std::string_view name;
  AlgFamily family;
  const char* digest;
};

constexpr Entry kAlgs[] = {
    {Alg::kHS256, "HS256", AlgFamily::kHmac, "SHA256"},
    {Alg::kHS384, "HS384", AlgFamily::kHmac, "SHA384"},
    {Alg::kHS512, "HS512", AlgFamily::kHmac, "SHA512"},
    {Alg::kRS256, "RS256", AlgFamily::kRsa, "SHA256"},
    {Alg::kRS384, "RS384", AlgFamily::kRsa, "SHA384"},
    {Alg::kRS512, "RS512", AlgFamily::kRsa, "SHA512"},
    {Alg::kES256, "ES256", AlgFamily::kEcdsa, "SHA256"},
    {Alg::kES384, "ES384", AlgFamily::kEcdsa, "SHA384"},
};

const Entry& entry(Alg alg) { return kAlgs[static_cast<size_t>(alg)]; }

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct SigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};

}  // namespace

std::optional<Alg> parse_alg(std::string_view name) {
  for (const Entry& e : kAlgs) {
    if (e.name == name) return e.alg;
  }
  return std::nullopt;
}

std::string_view alg_name(Alg alg) { return entry(alg).name; }
AlgFamily alg_family(Alg alg) { return entry(alg).family; }

std::string hmac_sign(Alg alg, std::string_view secret, std::string_view input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t out_len = 0;
  // OpenSSL rejects a null key pointer even with length 0; point at a dummy byte.
  static const unsigned char kEmpty = 0;
  const auto* key =
      secret.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(secret.data());
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, entry(alg).digest, nullptr, key, secret.size(),
                reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
                sizeof(out), &out_len) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<char*>(out), out_len);
}

bool verify_hmac(Alg alg, std::string_view secret, std::string_view input,
                 std::string_view signature) {
  const std::string expected = hmac_sign(alg, secret, input);
  return !expected.empty() && expected.size() == signature.size() &&
         CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
}

std::optional<std::string> ecdsa_jose_to_der(std::string_view jose, size_t width) {
  if (width == 0 || jose.size() != 2 * width) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(jose.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(width), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + width, static_cast<int>(width), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return std::nullopt;
  return der;
}

std::optional<std::string> ecdsa_der_to_jose(std::string_view der, size_t width) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, SigFree> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * width, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, static_cast<int>(width)) < 0 ||
      BN_bn2binpad(s, o + width, static_cast<int>(width)) < 0) {
    return std::nullopt;
  }
  return out;
}

bool verify_signature(Alg alg, EVP_PKEY* key, std::string_view input, std::string_view signature) {
  std::string der;
  if (alg_family(alg) == AlgFamily::kEcdsa) {
    const size_t width = alg == Alg::kES256 ? 32 : 48;
    auto converted = ecdsa_jose_to_der(signature, width);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  } else if (alg_family(alg) != AlgFamily::kRsa) {
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  // For an RSA key the default padding is PKCS#1 v1.5, which is what RS* means.
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, entry(alg).digest, nullptr, nullptr, key,
                              nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  const bool ok =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  // A refused signature leaves entries on this thread's error queue; drop them so they
  // are not mistaken for errors of unrelated OpenSSL calls (e.g. TLS) later on.
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace streamer::auth
