#include "app/buffered_log_sink.hpp"

#include <spdlog/pattern_formatter.h>
#include <unistd.h>

#include <cerrno>

#include "core/log_batch.hpp"

namespace streamer::app {

BufferedLogSink::BufferedLogSink(int fd, std::size_t buffer_bytes)
    : fd_(fd), limit_(buffer_bytes), formatter_(std::make_unique<spdlog::pattern_formatter>()) {
  held_.reserve(limit_);
}

BufferedLogSink::~BufferedLogSink() {
  std::lock_guard lock(mutex_);
  write_out_locked();
}

void BufferedLogSink::log(const spdlog::details::log_msg& msg) {
  if (!should_log(msg.level)) return;
  spdlog::memory_buf_t line;
  std::lock_guard lock(mutex_);
  formatter_->format(msg, line);
  held_.append(line.data(), line.size());
  if (limit_ == 0 || held_.size() >= limit_ || !LogBatch::open_on_this_thread()) {
    write_out_locked();
  }
}

void BufferedLogSink::flush() {
  std::lock_guard lock(mutex_);
  write_out_locked();
}

void BufferedLogSink::set_pattern(const std::string& pattern) {
  set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
}

void BufferedLogSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  std::lock_guard lock(mutex_);
  formatter_ = std::move(formatter);
}

std::size_t BufferedLogSink::writes() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

void BufferedLogSink::write_out_locked() {
  std::size_t done = 0;
  while (done < held_.size()) {
    const ssize_t n = ::write(fd_, held_.data() + done, held_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ++writes_;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  held_.clear();
}

}  // namespace streamer::app
