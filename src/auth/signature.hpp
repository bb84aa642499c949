// JWS algorithms (RFC 7518 §3) and their signature checks on top of OpenSSL 3 EVP.
#pragma once

#include <openssl/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace streamer::auth {

enum class Alg { kHS256, kHS384, kHS512, kRS256, kRS384, kRS512, kES256, kES384 };
enum class AlgFamily { kHmac, kRsa, kEcdsa };

// Maps a header `alg` to a supported algorithm; "none" and anything unknown are nullopt.
std::optional<Alg> parse_alg(std::string_view name);
std::string_view alg_name(Alg alg);
AlgFamily alg_family(Alg alg);

// HMAC of `input` under `secret`; the raw MAC bytes.
std::string hmac_sign(Alg alg, std::string_view secret, std::string_view input);

// Constant-time check that `signature` is the HMAC of `input` under `secret`.
bool verify_hmac(Alg alg, std::string_view secret, std::string_view input,
                 std::string_view signature);

// Checks an RS* (RSASSA-PKCS1-v1_5) or ES* signature over `input` with `key`. ES*
// signatures are in the JOSE format (fixed-width big-endian r || s), converted to DER
// here. The caller has already matched the key type to `alg`.
bool verify_signature(Alg alg, EVP_PKEY* key, std::string_view input, std::string_view signature);

// JOSE r || s (each `width` bytes) <-> DER ECDSA-Sig-Value. nullopt on bad input.
std::optional<std::string> ecdsa_jose_to_der(std::string_view jose, size_t width);
std::optional<std::string> ecdsa_der_to_jose(std::string_view der, size_t width);

}  // namespace streamer::auth
