#include "app/logging.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <stdexcept>

#include "app/buffered_log_sink.hpp"

namespace streamer::app {

spdlog::level::level_enum parse_log_level(const std::string& level) {
  // spdlog's from_str answers `off` for any name it does not know, which would turn
  // logging off silently on a typo.
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("--log-level: '" + level +
                                "' is not one of trace, debug, info, warn, error, critical, off");
  }
  return parsed;
}

void setup_logging(const std::string& level, LogOutput output) {
  const auto parsed = parse_log_level(level);
  const WriteRate rate{output.flush_interval.count() > 0 ? kLogWriteBurst : 0,
                       output.flush_interval};
  auto sink = std::make_shared<BufferedLogSink>(STDERR_FILENO, output.buffer_bytes, rate);
  auto logger = std::make_shared<spdlog::logger>("streamer", std::move(sink));
  // %v is a JSON object written by the caller; the pattern wraps it with time and level.
  logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":%v})",
                      spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  // Warnings and errors are written at once, with every line buffered before them.
  logger->flush_on(spdlog::level::warn);
  spdlog::drop("streamer");  // setup may run more than once in one process (tests)
  spdlog::register_logger(logger);
  spdlog::set_default_logger(logger);
}

void flush_logs() {
  if (auto logger = spdlog::default_logger()) logger->flush();
}

}  // namespace streamer::app
