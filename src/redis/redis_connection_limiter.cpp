#include "redis/redis_connection_limiter.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <random>

#include "core/log_event.hpp"

namespace streamer::redis {
namespace {

// KEYS[1]: the address's window. ARGV: limit, window ms, a member unique per attempt.
// Returns 0 when admitted (and counted), else the ms until the oldest admission leaves.
const LuaScript& admit_script() {
  static const LuaScript s(R"(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
)");
  return s;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RedisConnectionLimiter::RedisConnectionLimiter(RedisUrl url, int per_minute,
                                               ConnectionAdmission& fallback,
                                               RedisConnectionLimiterOptions options)
    : client_(std::move(url),
              RedisClientOptions{std::chrono::milliseconds(500), std::chrono::milliseconds(500),
                                 std::chrono::milliseconds(3000)}),
      per_minute_(per_minute),
      fallback_(fallback),
      options_(options) {
  std::random_device rd;
  member_prefix_ = std::to_string(getpid()) + '-' + std::to_string(rd()) + '-';
  thread_ = std::thread([this] { run(); });
}

RedisConnectionLimiter::~RedisConnectionLimiter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  thread_.join();
}

std::int64_t RedisConnectionLimiter::fall_back(const std::string& ip, SteadyTime now,
                                               const char* why) {
  if (fallbacks_++ % 1000 == 0) {
    log_event(spdlog::level::warn, "redis_connection_limit_fallback", {{"reason", why}});
  }
  return fallback_.admit(ip, now);
}

std::int64_t RedisConnectionLimiter::admit(const std::string& ip, SteadyTime now) {
  if (!healthy_.load()) return fall_back(ip, now, "redis_unreachable");
  // A call already slower than anyone may wait for holds the line: no use queueing.
  const auto began = call_began_ns_.load();
  if (began != 0 && steady_ns() - began > std::chrono::nanoseconds(options_.answer_wait).count())
    return fall_back(ip, now, "redis_slow");
  auto ask = std::make_shared<Ask>();
  ask->ip = ip;
  std::unique_lock lock(mutex_);
  if (asks_.size() >= options_.max_waiting) {
    lock.unlock();
    return fall_back(ip, now, "too_many_waiting");
  }
  asks_.push_back(ask);
  work_.notify_one();
  const bool answered =
      answered_.wait_for(lock, options_.answer_wait, [&] { return ask->answered; });
  if (answered && !ask->failed) return ask->wait_ms;
  ask->abandoned = true;
  lock.unlock();
  return fall_back(ip, now, answered ? "redis_error" : "redis_slow");
}

std::int64_t RedisConnectionLimiter::ask_redis(const std::string& ip) {
  return client_
      .eval(admit_script(), {"cr:{" + ip + "}"},
            {std::to_string(per_minute_), std::to_string(options_.window.count()),
             member_prefix_ + std::to_string(++counter_)})
      .as_int();
}

void RedisConnectionLimiter::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (!healthy_.load()) {
      // Every admit() falls back meanwhile; reach Redis again before asking it anything.
      work_.wait_for(lock, options_.retry_interval, [this] { return stopping_; });
      if (stopping_) return;
      lock.unlock();
      try {
        client_.command({"PING"});
        healthy_ = true;
        log_event(spdlog::level::info, "redis_connection_limit_recovered", {});
      } catch (const std::exception&) {
      }
      lock.lock();
      continue;
    }
    work_.wait(lock, [this] { return stopping_ || !asks_.empty(); });
    if (stopping_) return;
    auto ask = asks_.front();
    asks_.pop_front();
    if (ask->abandoned) continue;
    lock.unlock();
    std::int64_t wait_ms = 0;
    bool failed = false;
    call_began_ns_ = steady_ns();
    try {
      wait_ms = ask_redis(ask->ip);
    } catch (const std::exception& e) {
      failed = true;
      healthy_ = false;
      log_event(spdlog::level::warn, "redis_connection_limit_unreachable", {{"error", e.what()}});
    }
    call_began_ns_ = 0;
    lock.lock();
    ask->answered = true;
    ask->failed = failed;
    ask->wait_ms = wait_ms;
    if (failed) {
      // Redis is down: whoever waits decides locally now rather than at its deadline.
      for (auto& waiting : asks_) {
        waiting->answered = true;
        waiting->failed = true;
      }
      asks_.clear();
    }
    answered_.notify_all();
  }
}

}  // namespace streamer::redis
