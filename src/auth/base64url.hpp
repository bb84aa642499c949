// Base64url (RFC 4648 §5) as used by JWS compact serialization.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace streamer::auth {

// Encodes `data` with the URL-safe alphabet and no padding.
std::string base64url_encode(std::string_view data);

// Decodes the canonical encoding only: the URL-safe alphabet, no '=' padding, no
// whitespace, and unused trailing bits zero, so every byte string has exactly one
// accepted spelling (the one base64url_encode produces). JWS segments and JWK members
// are unpadded base64url (RFC 7515 §2, RFC 7518). Returns nullopt on any violation.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace streamer::auth
