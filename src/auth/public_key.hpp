// Verification keys for RS*/ES* tokens, loaded from PEM or from a JWKS document.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/signature.hpp"

namespace streamer::auth {

enum class KeyType { kRsa, kEcP256, kEcP384 };

struct PublicKey {
  std::string kid;  // JWKS "kid"; empty for PEM keys
  std::string alg;  // JWKS "alg" restriction; empty = any matching alg
  KeyType type = KeyType::kRsa;
  std::shared_ptr<EVP_PKEY> pkey;  // shared: the verifier is movable, keys are immutable
};

// Whether `alg` may be verified with a key of `type` (RS* with RSA, ES256 with P-256,
// ES384 with P-384).
bool key_matches_alg(KeyType type, Alg alg);

// Wraps a public key: classifies it and checks it is usable (RSA of at least 2048 bits,
// EC on P-256/P-384 with a valid point). Takes ownership of `pkey` even on throw.
// Throws std::invalid_argument otherwise.
PublicKey make_public_key(EVP_PKEY* pkey, std::string kid = {}, std::string alg = {});

// Parses a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), "RSA PUBLIC KEY" (PKCS#1) or
// "CERTIFICATE" (its subject key). Exactly one PEM block is accepted; private keys are
// refused. Throws std::invalid_argument on anything else.
PublicKey load_pem_public_key(std::string_view pem);

// Parses a JWKS document ({"keys": [...]}) into its RSA (n, e) and EC (crv P-256/P-384,
// x, y) signing keys. Keys of other types or curves, and keys whose "use" is not "sig",
// are skipped; a malformed supported key, duplicate kids, or a document with no usable
// key throws std::invalid_argument.
std::vector<PublicKey> load_jwks(std::string_view json);

}  // namespace streamer::auth
