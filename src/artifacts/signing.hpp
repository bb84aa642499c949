// HMAC-SHA256 URL signing primitives for the artifact store.
#pragma once

#include <string>
#include <string_view>

namespace streamer::artifacts {

// Lower-case hex HMAC-SHA256 of `message` under `key` (64 characters).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// Constant-time equality of two strings (time depends only on their lengths).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// `bytes` cryptographically random bytes as lower-case hex (2*bytes characters).
std::string random_hex(std::size_t bytes);

}  // namespace streamer::artifacts
