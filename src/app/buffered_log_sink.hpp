// The log sink of the server's stderr: formatted lines are written with write(2), and
// the lines a thread logs inside a LogBatch (core/log_batch.hpp: the jobs' commit
// thread, one round's per-job lines) are held and written together, in one write:
//  - when the outermost batch closes (it flushes the logger);
//  - before any line logged outside a batch (another thread's, or this thread's after
//    its batch), which is written at once with them, in the order logged;
//  - on flush() (the logger flushes at warn and above, setup_logging, so a warning or
//    error is written before its log call returns, with every line held before it);
//  - when they reach `buffer_bytes`, and when the sink is destroyed (clean exit).
// A process killed without unwinding (SIGKILL, a crash) loses at most the lines held
// for the batch in progress: fewer than `buffer_bytes`, none a warning or worse.
// buffer_bytes 0: nothing is held; every line is written at once.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace streamer::app {

class BufferedLogSink final : public spdlog::sinks::sink {
 public:
  BufferedLogSink(int fd, std::size_t buffer_bytes);
  ~BufferedLogSink() override;  // writes what is held
  BufferedLogSink(const BufferedLogSink&) = delete;
  BufferedLogSink& operator=(const BufferedLogSink&) = delete;

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override;
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

  // write(2) calls made so far (for tests and the benchmark notes).
  std::size_t writes() const;

 private:
  // Writes all held lines (retrying short writes and EINTR) and empties the buffer; a
  // write error drops the rest, as stdio's stderr would. Caller holds mutex_.
  void write_out_locked();

  const int fd_;
  const std::size_t limit_;
  mutable std::mutex mutex_;
  std::unique_ptr<spdlog::formatter> formatter_;
  std::string held_;
  std::size_t writes_ = 0;
};

}  // namespace streamer::app
