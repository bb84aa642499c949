// The log sink of the server's stderr: formatted lines are written with write(2), and
// lines are held and written together, in one write, in two cases:
//  - the lines a thread logs inside a LogBatch (core/log_batch.hpp: the jobs' commit
//    thread, one round's per-job lines) until the outermost batch closes (it flushes
//    the logger);
//  - with a `burst` > 0, lines logged outside a batch once `burst` writes were made in
//    the current `window`: they are written together when the window ends (by the
//    sink's flusher thread). A quiet server writes every line at once; a busy one (a
//    request_finished line per sync request, tens of thousands per second) makes at
//    most about burst + 1 writes per window instead of one per line, as nginx's
//    `access_log ... buffer= flush=` does.
// Held lines are also written, in the order logged, before any line that is written at
// once; on flush() (the logger flushes at warn and above, setup_logging, so a warning
// or error is written before its log call returns, with every line held before it);
// when they reach `buffer_bytes`; and when the sink is destroyed (clean exit).
// A process killed without unwinding (SIGKILL, a crash) loses at most the lines held:
// fewer than `buffer_bytes`, logged within the last `window`, none a warning or worse.
// buffer_bytes 0: nothing is held; every line is written at once.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace streamer::app {

// How many writes a sink makes at once per window before it holds lines for the
// window's end (burst 0: no limit, every line outside a batch is written at once).
struct WriteRate {
  std::size_t burst = 0;
  std::chrono::milliseconds window{0};
};

class BufferedLogSink final : public spdlog::sinks::sink {
 public:
  BufferedLogSink(int fd, std::size_t buffer_bytes, WriteRate rate = {});
  ~BufferedLogSink() override;  // stops the flusher, writes what is held
  BufferedLogSink(const BufferedLogSink&) = delete;
  BufferedLogSink& operator=(const BufferedLogSink&) = delete;

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override;
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

  // write(2) calls made so far (for tests and the benchmark notes).
  std::size_t writes() const;

 private:
  using Clock = std::chrono::steady_clock;

  // Writes all held lines (retrying short writes and EINTR) and empties the buffer; a
  // write error drops the rest, as stdio's stderr would. Caller holds mutex_.
  void write_out_locked();
  // True when a line logged outside a batch may be written now: fewer than `burst`
  // writes so far in the current window (which it starts anew when it has ended).
  bool may_write_now_locked(Clock::time_point now);
  // The flusher thread: writes what was held back for the rate once its window ends.
  void flush_at_window_ends();

  const int fd_;
  const std::size_t limit_;
  const WriteRate rate_;
  mutable std::mutex mutex_;
  std::condition_variable wake_flusher_;
  std::unique_ptr<spdlog::formatter> formatter_;
  std::string held_;
  std::size_t writes_ = 0;
  Clock::time_point window_start_{};
  std::size_t writes_in_window_ = 0;
  bool held_for_rate_ = false;  // lines wait for the window's end (the flusher writes them)
  bool stopping_ = false;
  std::thread flusher_;  // only with a burst
};

}  // namespace streamer::app
