#include "jobs/progress_reporter.hpp"

#include <algorithm>
#include <cmath>

#include "core/protocol.hpp"

namespace streamer {

ProgressReporter::ProgressReporter(std::string request_id, std::chrono::milliseconds interval,
                                   Emit emit)
    : request_id_(std::move(request_id)), interval_(interval), emit_(std::move(emit)) {}

void ProgressReporter::report(double percent, std::string_view message,
                              boost::json::object metadata) {
  if (std::isnan(percent)) return;
  percent = std::clamp(percent, 0.0, 100.0);
  percent = std::round(percent * 100.0) / 100.0;  // two decimals on the wire
  std::lock_guard order(emit_order_);             // outer lock: emits leave in percent order
  std::optional<boost::json::object> out;
  {
    std::lock_guard lock(mutex_);
    if (percent <= highest_seen_) return;  // monotonic: never go back or repeat
    highest_seen_ = percent;
    pending_ = Update{percent, std::string(message), std::move(metadata)};
    out = take_locked(false);
  }
  if (out) emit_(*out);
}

std::optional<boost::json::object> ProgressReporter::take_locked(bool force) {
  if (!pending_) return std::nullopt;
  auto now = Clock::now();
  if (!force && last_emitted_ >= 0 && now - last_emit_at_ < interval_) return std::nullopt;
  auto body = protocol::progress_body(request_id_, pending_->percent, pending_->message,
                                      pending_->metadata, std::chrono::system_clock::now());
  last_emitted_ = pending_->percent;
  last_emit_at_ = now;
  pending_.reset();
  return body;
}

void ProgressReporter::flush_if_due() {
  std::unique_lock order(emit_order_);
  std::optional<boost::json::object> out;
  {
    std::lock_guard lock(mutex_);
    out = take_locked(false);
  }
  if (out) emit_(*out);
}

void ProgressReporter::flush() {
  std::unique_lock order(emit_order_);
  std::optional<boost::json::object> out;
  {
    std::lock_guard lock(mutex_);
    out = take_locked(true);
  }
  if (out) emit_(*out);
}

void ProgressReporter::complete(std::string_view message) {
  {
    std::lock_guard order(emit_order_);
    std::lock_guard lock(mutex_);
    if (highest_seen_ < 100.0) {
      highest_seen_ = 100.0;
      pending_ = Update{100.0, std::string(message), {}};
    }
  }
  flush();
}

double ProgressReporter::last_emitted() const {
  std::lock_guard lock(mutex_);
  return last_emitted_;
}

}  // namespace streamer
