// The per-address connection rate counted across every gateway: a sliding window of
// one minute per client address in Redis (a sorted set of admission times, trimmed,
// counted and added to by one script, timed by the Redis server's clock so gateway
// clocks do not matter).
//
// admit() runs on a gateway I/O thread, so it never talks to Redis itself: a thread of
// the limiter's own does, and admit() waits for its answer at most `answer_wait`. Rule
// when Redis cannot answer in time (down, failing over, slow): the gateway's own
// per-process limiter decides (fail open to a per-process bound, never to no bound).
// After a failure the limiter stops asking Redis at once (every admit() goes to the
// fallback without waiting) until its thread has reached Redis again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/rate_limiters.hpp"
#include "redis/redis_client.hpp"

namespace streamer::redis {

struct RedisConnectionLimiterOptions {
  std::chrono::milliseconds window{std::chrono::minutes(1)};
  // Longest time admit() waits for Redis' answer before the fallback decides.
  std::chrono::milliseconds answer_wait{20};
  // While Redis is unreachable, how often the limiter's thread tries it again.
  std::chrono::milliseconds retry_interval{250};
  // Admissions waiting for the limiter's thread beyond which admit() falls back at once.
  std::size_t max_waiting = 1024;
};

class RedisConnectionLimiter final : public ConnectionAdmission {
 public:
  // `fallback` is used while Redis fails; it must outlive this object.
  RedisConnectionLimiter(RedisUrl url, int per_minute, ConnectionAdmission& fallback,
                         RedisConnectionLimiterOptions options = {});
  ~RedisConnectionLimiter() override;
  // Returns within answer_wait (plus the fallback's own time), whatever Redis does.
  std::int64_t admit(const std::string& ip, SteadyTime now) override;
  // Admissions the fallback decided (Redis failed, was known down, or answered late).
  std::uint64_t fallbacks() const { return fallbacks_.load(); }

 private:
  struct Ask {
    std::string ip;
    bool answered = false;
    bool abandoned = false;  // its admit() stopped waiting: not worth a Redis call
    bool failed = false;
    std::int64_t wait_ms = 0;
  };
  void run();
  std::int64_t ask_redis(const std::string& ip);  // throws when Redis fails
  std::int64_t fall_back(const std::string& ip, SteadyTime now, const char* why);

  RedisClient client_;  // used by the limiter's thread only
  int per_minute_;
  ConnectionAdmission& fallback_;
  RedisConnectionLimiterOptions options_;
  std::string member_prefix_;
  std::uint64_t counter_ = 0;  // the limiter's thread's
  std::atomic<bool> healthy_{true};
  // When the thread's current Redis call began (steady clock ns; 0: no call running).
  std::atomic<std::int64_t> call_began_ns_{0};
  std::atomic<std::uint64_t> fallbacks_{0};
  std::mutex mutex_;
  std::condition_variable work_;      // asks queued, or stopping
  std::condition_variable answered_;  // an ask was answered
  std::deque<std::shared_ptr<Ask>> asks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace streamer::redis
