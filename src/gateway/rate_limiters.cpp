#include "gateway/rate_limiters.hpp"

#include <algorithm>
#include <cmath>

namespace streamer {

std::int64_t ConnectionRateLimiter::admit(const std::string& ip, SteadyTime now) {
  constexpr auto kWindow = std::chrono::minutes(1);
  std::lock_guard lock(mutex_);
  if (now - last_sweep_ > kWindow) {  // forget IPs that went quiet, so the map stays small
    std::erase_if(attempts_, [&](const auto& kv) {
      return kv.second.empty() || now - kv.second.back() > kWindow;
    });
    last_sweep_ = now;
  }
  auto& q = attempts_[ip];
  while (!q.empty() && now - q.front() >= kWindow) q.pop_front();
  if (static_cast<int>(q.size()) >= per_minute_) {
    auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(q.front() + kWindow - now).count();
    return std::max<std::int64_t>(1, wait);
  }
  q.push_back(now);
  return 0;
}

std::int64_t TokenBucket::take(SteadyTime now) {
  if (last_ != SteadyTime{}) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
  }
  last_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return 0;
  }
  return std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / rate_ * 1000.0)));
}

}  // namespace streamer
