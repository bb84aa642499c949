// The gateway's rate limits, as pure data structures (time is passed in).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace streamer {

using SteadyTime = std::chrono::steady_clock::time_point;

// Admits new connections per client address. One implementation per process
// (ConnectionRateLimiter), one shared by every gateway (the Redis sliding window).
class ConnectionAdmission {
 public:
  virtual ~ConnectionAdmission() = default;
  // Counts an admitted attempt from `ip`; returns 0 when allowed, else the milliseconds
  // until the oldest counted attempt leaves the window (refusals are not counted).
  virtual std::int64_t admit(const std::string& ip, SteadyTime now) = 0;
};

// New connections per client IP in a sliding one-minute window. Thread-safe.
class ConnectionRateLimiter final : public ConnectionAdmission {
 public:
  explicit ConnectionRateLimiter(int per_minute) : per_minute_(per_minute) {}
  std::int64_t admit(const std::string& ip, SteadyTime now) override;

 private:
  int per_minute_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<SteadyTime>> attempts_;
  SteadyTime last_sweep_{};
};

// Messages per second for one connection: a token bucket holding one second's worth,
// so short bursts up to the limit pass and a sustained excess is refused. Used from
// one thread (the connection's strand).
class TokenBucket {
 public:
  explicit TokenBucket(int per_second) : rate_(per_second), tokens_(per_second) {}
  // Takes a token; returns 0 when allowed, else milliseconds until one is available.
  std::int64_t take(SteadyTime now);

 private:
  double rate_;
  double tokens_;
  SteadyTime last_{};
};

}  // namespace streamer
