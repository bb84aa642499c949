#include "app/buffered_log_sink.hpp"

#include <spdlog/pattern_formatter.h>
#include <unistd.h>

#include <cerrno>

#include "core/log_batch.hpp"

namespace streamer::app {

BufferedLogSink::BufferedLogSink(int fd, std::size_t buffer_bytes, WriteRate rate)
    : fd_(fd),
      limit_(buffer_bytes),
      rate_(rate),
      formatter_(std::make_unique<spdlog::pattern_formatter>()) {
  held_.reserve(limit_);
  if (limit_ > 0 && rate_.burst > 0) flusher_ = std::thread([this] { flush_at_window_ends(); });
}

BufferedLogSink::~BufferedLogSink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_flusher_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  std::lock_guard lock(mutex_);
  write_out_locked();
}

void BufferedLogSink::log(const spdlog::details::log_msg& msg) {
  if (!should_log(msg.level)) return;
  spdlog::memory_buf_t line;
  std::lock_guard lock(mutex_);
  formatter_->format(msg, line);
  held_.append(line.data(), line.size());
  const bool held_for_batch = LogBatch::open_on_this_thread();  // written when it closes
  const bool hold = limit_ > 0 && held_.size() < limit_ &&
                    (held_for_batch || (rate_.burst > 0 && !may_write_now_locked(Clock::now())));
  if (!hold) {
    write_out_locked();
    return;
  }
  if (!held_for_batch && !held_for_rate_) {
    held_for_rate_ = true;
    wake_flusher_.notify_one();  // once per window at most
  }
}

bool BufferedLogSink::may_write_now_locked(Clock::time_point now) {
  if (now - window_start_ >= rate_.window) {
    window_start_ = now;
    writes_in_window_ = 0;
  }
  return writes_in_window_ < rate_.burst;
}

void BufferedLogSink::flush_at_window_ends() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_flusher_.wait(lock, [this] { return stopping_ || held_for_rate_; });
    if (stopping_) return;  // the destructor writes what is held
    const auto window_end = window_start_ + rate_.window;
    if (wake_flusher_.wait_until(lock, window_end, [this] { return stopping_; })) return;
    held_for_rate_ = false;
    window_start_ = Clock::now();  // the next window starts with this write
    writes_in_window_ = 0;
    if (!held_.empty()) write_out_locked();
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
  if (done > 0) ++writes_in_window_;
  held_.clear();
}

}  // namespace streamer::app
