#include "jobs/work_waiter.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "core/json_text.hpp"
#include "core/log_event.hpp"

namespace streamer {

WorkWaiter::WorkWaiter(JobStore& store, std::function<void()> on_work,
                       std::chrono::milliseconds slice)
    : store_(store), on_work_(std::move(on_work)), slice_(slice) {}

WorkWaiter::~WorkWaiter() { stop(); }

void WorkWaiter::start() {
  thread_ = std::thread([this] { run(); });
}

void WorkWaiter::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WorkWaiter::run() {
  pthread_setname_np(pthread_self(), "jobs-waiter");
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    const auto deadline = std::chrono::steady_clock::now() + slice_;
    bool woken = false;
    try {
      woken = store_.wait_for_work(deadline);
    } catch (const std::exception& e) {
      // The store is unreachable: try again after the slice (the pool's own periodic
      // look at the store keeps working meanwhile).
      log_event(spdlog::level::warn, "store_error", {{"op", "wait_for_work"}, {"error", e.what()}});
    }
    if (woken) on_work_();
    lock.lock();
    // A store that returned early without work (it does not block, or it failed) is
    // asked again only at the slice's end.
    if (!woken) cv_.wait_until(lock, deadline, [this] { return stop_; });
  }
}

}  // namespace streamer
