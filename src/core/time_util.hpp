// Wall-clock helpers for the wire format: ISO-8601 UTC with a trailing Z.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace streamer {

using SystemClock = std::chrono::system_clock;

// "2024-01-20T10:30:45Z" (whole seconds, as the seed's examples).
std::string format_iso8601(SystemClock::time_point t);
// Seconds since the Unix epoch.
std::int64_t to_unix_seconds(SystemClock::time_point t);
// Seconds as a JSON-friendly double with microsecond resolution.
double seconds_between(std::chrono::steady_clock::time_point from,
                       std::chrono::steady_clock::time_point to);

}  // namespace streamer
