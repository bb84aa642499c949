#include "service/sync_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

#include "core/json_text.hpp"

namespace streamer {

SyncPool::SyncPool(int threads, std::chrono::microseconds stall_after)
    : stall_after_(stall_after), running_since_(static_cast<std::size_t>(std::max(1, threads))) {
  threads_.reserve(running_since_.size());
  for (std::size_t i = 0; i < running_since_.size(); ++i) threads_.emplace_back([this, i] { thread_main(i); });
}

SyncPool::~SyncPool() { join(); }

void SyncPool::post(std::function<void()> task) {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  queue_.push_back(Queued{std::move(task), now});
  if (!someone_free_soon(now)) wake_one();
}

void SyncPool::rebalance() {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  if (!queue_.empty() && now - queue_.front().enqueued > stall_after_ && !someone_free_soon(now)) wake_one();
}

void SyncPool::join() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  std::lock_guard lock(mutex_);
  threads_.clear();
}

std::size_t SyncPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool SyncPool::someone_free_soon(Clock::time_point now) const {
  // Threads are awake and not inside a task only transiently, and always under the
  // mutex (which the caller holds), except those granted a wake that have not run yet.
  if (wake_tokens_ > 0) return true;
  const std::size_t awake = running_since_.size() - sleeping_;
  if (awake > running_) return true;
  return std::any_of(running_since_.begin(), running_since_.end(), [&](Clock::time_point since) {
    return since != Clock::time_point{} && now - since <= stall_after_;
  });
}

void SyncPool::wake_one() {
  if (sleeping_ <= wake_tokens_) return;  // every sleeper already has a wake coming
  ++wake_tokens_;
  wake_.notify_one();
}

void SyncPool::thread_main(std::size_t index) {
  std::unique_lock lock(mutex_);
  while (true) {
    if (!queue_.empty()) {
      auto task = std::move(queue_.front().task);
      queue_.pop_front();
      running_since_[index] = Clock::now();
      ++running_;
      lock.unlock();
      try {
        task();
      } catch (const std::exception& e) {
        spdlog::error(R"({{"event":"sync_task_exception","error":{}}})", json_quoted(e.what()));
      } catch (...) {
        spdlog::error(R"({{"event":"sync_task_exception","error":"unknown"}})");
      }
      task = nullptr;  // release captures outside the lock
      lock.lock();
      --running_;
      running_since_[index] = Clock::time_point{};
      continue;
    }
    if (stopping_) return;
    ++sleeping_;
    wake_.wait(lock, [this] { return wake_tokens_ > 0 || stopping_; });
    --sleeping_;
    if (wake_tokens_ > 0) --wake_tokens_;
  }
}

}  // namespace streamer
