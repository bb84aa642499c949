#include "core/handler.hpp"

#include <algorithm>
#include <utility>

namespace streamer {

bool Identity::has_permission(std::string_view permission) const {
  if (permission.empty()) return true;
  return std::find(permissions.begin(), permissions.end(), permission) != permissions.end();
}

HandlerError::HandlerError(ErrorCode code, const std::string& message, boost::json::object details,
                           std::optional<bool> retryable)
    : std::runtime_error(message),
      code_(code),
      details_(std::move(details)),
      retryable_(retryable.value_or(is_retryable(code))) {}

HandlerError HandlerError::validation(std::string_view field, std::string_view expected,
                                      const boost::json::value& received,
                                      const std::string& message) {
  boost::json::object details;
  details["field"] = field;
  details["expected"] = expected;
  if (received.is_string()) {
    details["received"] = received;
  } else {
    details["received"] = boost::json::serialize(received);
  }
  return HandlerError(ErrorCode::kValidationError, message, std::move(details));
}

bool CancelToken::cancel(Reason reason) noexcept {
  Reason expected = Reason::kNone;
  bool set = reason_.compare_exchange_strong(expected, reason, std::memory_order_acq_rel);
  if (set) {
    std::lock_guard lock(mutex_);
    changed_.notify_all();
    if (wake_) std::exchange(wake_, nullptr)();
  }
  return set;
}

void CancelToken::set_wake(std::function<void()> wake) const {
  std::lock_guard lock(mutex_);
  if (wake && cancelled()) return wake();
  wake_ = std::move(wake);
}

void CancelToken::throw_if_cancelled() const {
  if (cancelled()) throw OperationCancelled{};
}

bool CancelToken::wait_for(std::chrono::nanoseconds duration) const {
  // Nothing to wait for: a timed wait with a deadline already past still sleeps in the
  // kernel until the next timer tick (a context switch per call).
  if (duration <= std::chrono::nanoseconds::zero()) return !cancelled();
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, duration, [this] { return cancelled(); });
}

}  // namespace streamer
