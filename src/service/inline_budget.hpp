// The guard on handlers declared Execution::kInline: they run on an I/O thread, so one
// that takes longer than its budget holds up every connection on that thread. Each
// such run is counted (streamer_inline_overruns_total) and logged as a warning, at most
// one line per `log_every` so a misbehaving handler cannot flood the log.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

namespace streamer {

class InlineBudget {
 public:
  using Clock = std::chrono::steady_clock;

  // `overruns` is incremented for every run over `budget` (the metrics' counter).
  InlineBudget(std::chrono::nanoseconds budget, std::chrono::nanoseconds log_every,
               std::atomic<std::uint64_t>& overruns);

  // Call after an inline run of `action` that took `took`. Over budget: counts it and
  // logs {"event":"inline_overrun", action, took_ms, budget_ms, not_logged} unless a
  // line was logged less than log_every before `now` (not_logged: overruns since the
  // last line that were not logged). Returns true when it logged.
  bool check(std::string_view action, std::chrono::nanoseconds took,
             Clock::time_point now = Clock::now());

 private:
  const std::chrono::nanoseconds budget_;
  const std::chrono::nanoseconds log_every_;
  std::atomic<std::uint64_t>& overruns_;
  std::mutex mutex_;
  Clock::time_point last_logged_{};
  bool logged_before_ = false;
  std::uint64_t not_logged_ = 0;
};

}  // namespace streamer
