// Base64url (RFC 4648 §5) as used by JWS compact serialization.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace streamer::auth {

// Encodes `data` with the URL-safe alphabet and no padding.
std::string base64url_encode(std::string_view data);

// Strictly decodes `text`: only the URL-safe alphabet, optional '=' padding that must
// complete the last quantum, no whitespace, and unused trailing bits must be zero (so
// every byte string has exactly one accepted encoding, modulo padding). Returns
// nullopt on any violation.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace streamer::auth
