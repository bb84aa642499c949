#include "remote/lane_waiter.hpp"

#include <pthread.h>

#include "core/log_event.hpp"

namespace streamer::remote {

LaneWaiter::LaneWaiter(JobStore& store,
                       std::function<void(const std::vector<std::string>&)> on_work,
                       std::chrono::milliseconds slice)
    : store_(store), on_work_(std::move(on_work)), slice_(slice) {}

LaneWaiter::~LaneWaiter() { stop(); }

void LaneWaiter::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { run(); });
}

void LaneWaiter::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LaneWaiter::set_lanes(std::vector<std::string> lanes) {
  std::lock_guard lock(mutex_);
  lanes_ = std::move(lanes);
  cv_.notify_all();
}

void LaneWaiter::run() {
  pthread_setname_np(pthread_self(), "remote-waiter");
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (lanes_.empty()) {
      cv_.wait(lock, [this] { return stop_ || !lanes_.empty(); });
      continue;
    }
    const std::vector<std::string> lanes = lanes_;
    lock.unlock();
    const auto deadline = std::chrono::steady_clock::now() + slice_;
    bool woken = false;
    try {
      woken = store_.wait_for_lane_work(lanes, deadline);
    } catch (const std::exception& e) {
      // The store is unreachable: try again after the slice (the dispatcher's periodic
      // look at the store keeps working meanwhile).
      log_event(spdlog::level::warn, "store_error",
                {{"op", "wait_for_lane_work"}, {"error", e.what()}});
    }
    if (woken) on_work_(lanes);
    lock.lock();
    if (!woken) cv_.wait_until(lock, deadline, [this] { return stop_; });
  }
}

}  // namespace streamer::remote
