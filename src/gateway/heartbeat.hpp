// A connection's deadlines, sans-IO: a ping every `ping_interval`, close after
// `idle_timeout` without any frame from the client (pongs count), at the end of the
// connection's lifetime, and when its token expires. The session keeps one of these
// and the gateway's sweeper asks it what is due.
#pragma once

#include <algorithm>
#include <chrono>

namespace streamer {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Due { kNothing, kTokenExpired, kLifetimeOver, kIdle, kPing };

  Heartbeat(Clock::time_point now, Clock::duration ping_interval, Clock::duration idle_timeout,
            Clock::duration lifetime)
      : ping_interval_(ping_interval),
        idle_timeout_(idle_timeout),
        last_seen_(now),
        next_ping_(now + ping_interval),
        lifetime_end_(now + lifetime) {}

  void set_token_expiry(Clock::time_point t) { token_expires_ = t; }
  // The client sent something (any frame).
  void seen(Clock::time_point now) { last_seen_ = now; }

  // The first thing due at `now`, in this order: token expiry, lifetime, idle timeout,
  // ping. Reporting kPing schedules the next ping.
  Due check(Clock::time_point now) {
    if (now >= token_expires_) return Due::kTokenExpired;
    if (now >= lifetime_end_) return Due::kLifetimeOver;
    if (now - last_seen_ >= idle_timeout_) return Due::kIdle;
    if (now >= next_ping_) {
      next_ping_ = now + ping_interval_;
      return Due::kPing;
    }
    return Due::kNothing;
  }

  // The earliest instant check() may report something.
  Clock::time_point next_due() const {
    return std::min({next_ping_, token_expires_, lifetime_end_, last_seen_ + idle_timeout_});
  }

 private:
  Clock::duration ping_interval_;
  Clock::duration idle_timeout_;
  Clock::time_point last_seen_;
  Clock::time_point next_ping_;
  Clock::time_point lifetime_end_;
  Clock::time_point token_expires_ = Clock::time_point::max();
};

}  // namespace streamer
