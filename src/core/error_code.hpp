// Error codes of the protocol, as listed in docs/protocol.md: each with its wire name,
// and whether a client may retry the request that got it.
#pragma once

#include <optional>
#include <string_view>

namespace streamer {

enum class ErrorCode {
  kValidationError,
  kNotFound,
  kUnauthorized,
  kInternalError,
  kTimeout,
  kRateLimited,
  kInvalidAction,
  kCancelled,
};

// Wire spelling, e.g. "VALIDATION_ERROR".
std::string_view to_string(ErrorCode code) noexcept;
// Inverse of to_string; nullopt for an unknown spelling.
std::optional<ErrorCode> error_code_from_string(std::string_view text) noexcept;
// The seed's "Retry" column: INTERNAL_ERROR, TIMEOUT and RATE_LIMITED are retryable.
bool is_retryable(ErrorCode code) noexcept;

}  // namespace streamer
