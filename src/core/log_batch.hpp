// Log lines batched per thread: while a LogBatch is open on a thread, the lines that
// thread logs may be held back by the log sink and written together when the
// outermost batch closes (one write for many lines). Lines of other threads, and
// warnings or worse, are written at once as before, with every held line before them,
// in order. Used by the jobs' commit thread around one round's callbacks, whose
// per-job lines would otherwise cost a write each.
#pragma once

namespace streamer {

class LogBatch {
 public:
  LogBatch();
  ~LogBatch();  // the outermost one flushes the default logger
  LogBatch(const LogBatch&) = delete;
  LogBatch& operator=(const LogBatch&) = delete;

  // True while a LogBatch is open on the calling thread.
  static bool open_on_this_thread() noexcept;
};

}  // namespace streamer
