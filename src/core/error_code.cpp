#include "core/error_code.hpp"

#include <array>
#include <utility>

namespace streamer {
namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 8> kNames{{
    {ErrorCode::kValidationError, "VALIDATION_ERROR"},
    {ErrorCode::kNotFound, "NOT_FOUND"},
    {ErrorCode::kUnauthorized, "UNAUTHORIZED"},
    {ErrorCode::kInternalError, "INTERNAL_ERROR"},
    {ErrorCode::kTimeout, "TIMEOUT"},
    {ErrorCode::kRateLimited, "RATE_LIMITED"},
    {ErrorCode::kInvalidAction, "INVALID_ACTION"},
    {ErrorCode::kCancelled, "CANCELLED"},
}};
}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "INTERNAL_ERROR";
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) noexcept {
  for (const auto& [c, name] : kNames) {
    if (name == text) return c;
  }
  return std::nullopt;
}

bool is_retryable(ErrorCode code) noexcept {
  return code == ErrorCode::kInternalError || code == ErrorCode::kTimeout ||
         code == ErrorCode::kRateLimited;
}

}  // namespace streamer
