#include "core/time_util.hpp"

#include <ctime>

namespace streamer {

std::string format_iso8601(SystemClock::time_point t) {
  // Hand-formatted (no snprintf): this runs for every health answer and progress event.
  std::time_t secs = SystemClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string out = "0000-00-00T00:00:00Z";
  auto put = [&out](std::size_t end, int value, int digits) {
    for (int i = 0; i < digits; ++i, value /= 10)
      out[end - static_cast<std::size_t>(i)] = char('0' + value % 10);
  };
  put(3, tm.tm_year + 1900, 4);
  put(6, tm.tm_mon + 1, 2);
  put(9, tm.tm_mday, 2);
  put(12, tm.tm_hour, 2);
  put(15, tm.tm_min, 2);
  put(18, tm.tm_sec, 2);
  return out;
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
