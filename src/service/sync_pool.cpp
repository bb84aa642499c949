#include "service/sync_pool.hpp"

#include <algorithm>
#include <exception>

#include "core/log_event.hpp"

namespace streamer {

SyncPool::SyncPool(int threads, std::chrono::microseconds stall_after, std::size_t max_per_owner)
    : max_per_owner_(std::max<std::size_t>(1, max_per_owner)),
      queue_(static_cast<std::size_t>(std::max(1, threads)), stall_after) {
  threads_.resize(static_cast<std::size_t>(std::max(1, threads)));
  for (std::size_t i = 0; i < threads_.size(); ++i)
    threads_[i] = std::thread([this, i] { thread_main(i); });
}

SyncPool::~SyncPool() { join(); }

void SyncPool::post(std::function<void()> task) { queue_.push(std::move(task)); }

void SyncPool::post(const void* owner, std::function<void()> task) {
  std::lock_guard lock(lanes_mutex_);
  Lane& lane = lanes_[owner];
  if (draining_ || lane.in_pool < max_per_owner_) {
    if (!admit(owner, lane, std::move(task)) && lane.in_pool == 0 && lane.waiting.empty())
      lanes_.erase(owner);  // closed: dropped
  } else {
    lane.waiting.push_back(std::move(task));
  }
}

bool SyncPool::admit(const void* owner, Lane& lane, std::function<void()> task) {
  // The wrapper reports the end even when the task throws (the thread catches it).
  struct OnEnd {
    SyncPool* pool;
    const void* owner;
    ~OnEnd() { pool->finished(owner); }
  };
  const bool queued = queue_.push([this, owner, task = std::move(task)] {
    OnEnd on_end{this, owner};
    task();
  });
  if (queued) ++lane.in_pool;
  return queued;
}

void SyncPool::finished(const void* owner) {
  std::lock_guard lock(lanes_mutex_);
  auto it = lanes_.find(owner);
  if (it == lanes_.end()) return;
  Lane& lane = it->second;
  --lane.in_pool;
  if (!lane.waiting.empty()) {
    auto next = std::move(lane.waiting.front());
    lane.waiting.pop_front();
    admit(owner, lane, std::move(next));  // to the back of the pool's queue: owners take turns
  }
  if (lane.in_pool == 0 && lane.waiting.empty()) lanes_.erase(it);
}

std::size_t SyncPool::waiting() const {
  std::lock_guard lock(lanes_mutex_);
  std::size_t n = 0;
  for (const auto& [owner, lane] : lanes_) n += lane.waiting.size();
  return n;
}

void SyncPool::join() {
  {
    // Everything still waiting in a lane goes into the queue before it closes, so the
    // threads run it like the rest (nothing accepted is dropped at shutdown).
    std::lock_guard lock(lanes_mutex_);
    draining_ = true;
    for (auto& [owner, lane] : lanes_) {
      auto waiting = std::move(lane.waiting);
      lane.waiting.clear();
      for (auto& task : waiting) admit(owner, lane, std::move(task));
    }
  }
  queue_.close();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void SyncPool::thread_main(std::size_t index) {
  while (auto task = queue_.take(index)) {
    try {
      (*task)();
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "sync_task_exception", {{"error", e.what()}});
    } catch (...) {
      log_event(spdlog::level::err, "sync_task_exception", {{"error", "unknown"}});
    }
    task.reset();  // release the task's captures before counting it done
    queue_.done(index);
  }
}

}  // namespace streamer
