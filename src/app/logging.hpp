// Structured logs: one JSON object per line on stderr. Messages passed to spdlog are
// JSON object bodies (`"event":"...",...`) so every line parses.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace streamer::app {

// The spdlog level named `level`; throws std::invalid_argument for an unknown name.
spdlog::level::level_enum parse_log_level(const std::string& level);

// How log lines reach stderr (BufferedLogSink): lines a thread logs inside a LogBatch
// are held, up to `buffer_bytes`, and written together when the batch closes; other
// lines are written at once (with those held before it) until kLogWriteBurst writes
// were made within `flush_interval`, then held for that window's end (0: never held).
// buffer_bytes 0: nothing is held.
inline constexpr std::size_t kLogWriteBurst = 16;
struct LogOutput {
  std::size_t buffer_bytes = 64 * 1024;
  std::chrono::milliseconds flush_interval{50};
};

// Logs JSON lines to stderr at `level` (parse_log_level; throws for an unknown name).
void setup_logging(const std::string& level, LogOutput output = {});

// Writes out every buffered log line now (before a message printed to stderr directly,
// and at exit).
void flush_logs();

}  // namespace streamer::app
