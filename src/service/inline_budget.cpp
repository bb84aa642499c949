#include "service/inline_budget.hpp"

#include <cmath>

#include "core/log_event.hpp"

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
  // Milliseconds to the microsecond: enough to read, short to write.
  auto ms = [](auto d) { return std::round(Ms(d).count() * 1000.0) / 1000.0; };
  log_event(spdlog::level::warn, "inline_overrun",
            {{"action", action},
             {"took_ms", ms(took)},
             {"budget_ms", ms(budget_)},
             {"not_logged", skipped}});
  return true;
}

}  // namespace streamer
