#include "service/inline_budget.hpp"

#include <spdlog/spdlog.h>

#include "core/json_text.hpp"

namespace streamer {

InlineBudget::InlineBudget(std::chrono::nanoseconds budget, std::chrono::nanoseconds log_every,
                           std::atomic<std::uint64_t>& overruns)
    : budget_(budget), log_every_(log_every), overruns_(overruns) {}

bool InlineBudget::check(std::string_view action, std::chrono::nanoseconds took,
                         Clock::time_point now) {
  if (took <= budget_) return false;
  overruns_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t skipped = 0;
  {
    std::lock_guard lock(mutex_);
    if (logged_before_ && now - last_logged_ < log_every_) {
      ++not_logged_;
      return false;
    }
    logged_before_ = true;
    last_logged_ = now;
    skipped = not_logged_;
    not_logged_ = 0;
  }
  using Ms = std::chrono::duration<double, std::milli>;
  spdlog::warn(
      R"({{"event":"inline_overrun","action":{},"took_ms":{:.3f},"budget_ms":{:.3f},"not_logged":{}}})",
      json_quoted(action), Ms(took).count(), Ms(budget_).count(), skipped);
  return true;
}

}  // namespace streamer
