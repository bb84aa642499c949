// PEM loading for JwtConfig::public_key_pem.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>

#include "auth/public_key.hpp"

namespace streamer::auth {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};

// One decoded PEM block.
struct PemBlock {
  std::string name;
  std::string der;
};

// Reads every PEM block in `pem`; throws when there is none or the armour is broken.
std::vector<PemBlock> read_blocks(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::invalid_argument("cannot read PEM");
  std::vector<PemBlock> blocks;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) break;
    blocks.push_back({name, std::string(reinterpret_cast<char*>(data), static_cast<size_t>(len))});
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  // PEM_read_bio ends with a "no start line" error at EOF; anything else is damage.
  const unsigned long err = ERR_peek_last_error();
  const bool clean_eof =
      ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (!clean_eof && err != 0) throw std::invalid_argument("public key PEM is damaged");
  if (blocks.empty()) throw std::invalid_argument("public key PEM holds no PEM block");
  return blocks;
}

}  // namespace

PublicKey load_pem_public_key(std::string_view pem) {
  std::vector<PemBlock> blocks = read_blocks(pem);
  if (blocks.size() != 1) throw std::invalid_argument("public key PEM must hold exactly one key");
  const PemBlock& block = blocks.front();
  const auto* p = reinterpret_cast<const unsigned char*>(block.der.data());
  const long len = static_cast<long>(block.der.size());
  EVP_PKEY* pkey = nullptr;
  if (block.name == "PUBLIC KEY") {
    pkey = d2i_PUBKEY(nullptr, &p, len);
  } else if (block.name == "RSA PUBLIC KEY") {
    pkey = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
  } else if (block.name == "CERTIFICATE") {
    std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, len));
    if (cert) pkey = X509_get_pubkey(cert.get());
  } else if (block.name.find("PRIVATE KEY") != std::string::npos) {
    throw std::invalid_argument("public key PEM holds a private key; give the public key only");
  } else {
    throw std::invalid_argument("public key PEM holds an unsupported block type");
  }
  if (pkey && p != reinterpret_cast<const unsigned char*>(block.der.data()) + len) {
    EVP_PKEY_free(pkey);  // trailing bytes after the key structure
    pkey = nullptr;
  }
  if (!pkey) {
    ERR_clear_error();
    throw std::invalid_argument("public key PEM cannot be decoded");
  }
  return make_public_key(pkey);
}

}  // namespace streamer::auth
