// The Progress a running async handler reports to. It clamps percent to [0, 100],
// keeps it strictly increasing (an update that does not advance is dropped),
// coalesces bursts to at most one emitted update per interval (the newest wins), and
// can be completed at 100 before a success.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "core/handler.hpp"

namespace streamer {

class ProgressReporter final : public Progress {
 public:
  using Clock = std::chrono::steady_clock;
  // emit(body) persists and publishes one `progress` body; called without locks held
  // by this object, from whichever thread triggered it.
  using Emit = std::function<void(const boost::json::object& body)>;

  ProgressReporter(std::string request_id, std::chrono::milliseconds interval, Emit emit);

  void report(double percent, std::string_view message, boost::json::object metadata = {}) override;
  // Emits a pending coalesced update whose interval has passed (called periodically).
  void flush_if_due();
  // Emits any pending update now.
  void flush();
  // Makes sure the last emitted update is 100 %, emitting one if needed.
  void complete(std::string_view message);
  double last_emitted() const;

 private:
  struct Update {
    double percent;
    std::string message;
    boost::json::object metadata;
  };
  // Takes the pending update if it should go out now; caller emits it unlocked.
  std::optional<boost::json::object> take_locked(bool force);

  std::string request_id_;
  std::chrono::milliseconds interval_;
  Emit emit_;
  mutable std::mutex mutex_;
  std::optional<Update> pending_;
  double highest_seen_ = -1;  // highest percent accepted into pending_ or emitted
  double last_emitted_ = -1;
  Clock::time_point last_emit_at_{};
  std::mutex emit_order_;  // keeps emits in percent order across threads
};

}  // namespace streamer
