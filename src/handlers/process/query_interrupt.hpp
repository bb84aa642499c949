// Stops SQLite work of the `query` source when the job is cancelled or the query's
// time budget is spent (shared by the tenant snapshot build and the client's query).
#pragma once

#include <chrono>

#include "core/handler.hpp"

struct sqlite3;

namespace streamer::process {

class QueryInterrupt {
 public:
  // `cancel` may be null; `time_limit` counts from construction.
  QueryInterrupt(const CancelToken* cancel, std::chrono::milliseconds time_limit);

  // Installs a progress handler on `db` that makes the running statement fail with
  // SQLITE_INTERRUPT once cancelled() or timed_out() holds.
  void install(sqlite3* db) const;

  std::chrono::milliseconds time_limit() const noexcept { return time_limit_; }
  bool cancelled() const noexcept;
  bool timed_out() const noexcept;

  // Throws OperationCancelled when cancelled, otherwise HandlerError
  // VALIDATION_ERROR (field `field`) when the time budget is spent; returns when
  // neither holds. Call it when a statement returned SQLITE_INTERRUPT.
  void throw_if_stopped(std::string_view field) const;

 private:
  const CancelToken* cancel_;
  std::chrono::milliseconds time_limit_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace streamer::process
