#include "core/time_util.hpp"

#include <cstdio>
#include <ctime>

namespace streamer {

std::string format_iso8601(SystemClock::time_point t) {
  std::time_t secs = SystemClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::int64_t to_unix_seconds(SystemClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

double seconds_between(std::chrono::steady_clock::time_point from,
                       std::chrono::steady_clock::time_point to) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
  return static_cast<double>(us) / 1e6;
}

}  // namespace streamer
