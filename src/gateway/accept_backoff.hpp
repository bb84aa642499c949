// What the listener does when accept() fails (out of file descriptors, mostly), as
// pure data structures with time passed in: wait before the next attempt, doubling
// from `first` to `longest`, and log the failure at most once per interval with the
// number of failures since the last line.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

namespace streamer {

class AcceptBackoff {
 public:
  using Duration = std::chrono::milliseconds;
  AcceptBackoff(Duration first, Duration longest) : first_(first), longest_(longest) {}

  // The pause before the next attempt after one more failure in a row.
  Duration next_delay() {
    current_ = current_ == Duration::zero() ? first_ : std::min(current_ * 2, longest_);
    return current_;
  }
  // An accept succeeded: the next failure starts from `first` again.
  void reset() { current_ = Duration::zero(); }

 private:
  Duration first_;
  Duration longest_;
  Duration current_{0};
};

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

  // Counts one event. Returns how many events the line to write now stands for (this
  // one and those suppressed since the last line), or nothing when it is too soon to
  // write another line.
  std::optional<std::uint64_t> event(Clock::time_point now) {
    ++pending_;
    if (logged_once_ && now - last_ < interval_) return std::nullopt;
    logged_once_ = true;
    last_ = now;
    return std::exchange(pending_, 0);
  }

 private:
  Clock::duration interval_;
  Clock::time_point last_{};
  bool logged_once_ = false;
  std::uint64_t pending_ = 0;
};

}  // namespace streamer
