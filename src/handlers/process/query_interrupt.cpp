#include "handlers/process/query_interrupt.hpp"

#include <sqlite3.h>

namespace streamer::process {

QueryInterrupt::QueryInterrupt(const CancelToken* cancel, std::chrono::milliseconds time_limit)
    : cancel_(cancel),
      time_limit_(time_limit),
      deadline_(std::chrono::steady_clock::now() + time_limit) {}

void QueryInterrupt::install(sqlite3* db) const {
  // Every 1000 virtual machine instructions: a clock read is negligible next to them.
  sqlite3_progress_handler(
      db, 1000,
      [](void* self) -> int {
        const auto* q = static_cast<const QueryInterrupt*>(self);
        return q->cancelled() || q->timed_out() ? 1 : 0;
      },
      const_cast<QueryInterrupt*>(this));
}

bool QueryInterrupt::cancelled() const noexcept { return cancel_ && cancel_->cancelled(); }

bool QueryInterrupt::timed_out() const noexcept {
  return std::chrono::steady_clock::now() >= deadline_;
}

void QueryInterrupt::throw_if_stopped(std::string_view field) const {
  if (cancelled()) throw OperationCancelled{};
  if (timed_out()) {
    const auto ms = time_limit_.count();
    const std::string limit =
        ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    throw HandlerError::validation(
        field, "a query that finishes within the query time limit", boost::json::string(limit),
        "the query ran longer than its time limit of " + limit + " (--query-time-limit)");
  }
}

}  // namespace streamer::process
