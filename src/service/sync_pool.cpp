#include "service/sync_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

#include "core/json_text.hpp"

namespace streamer {

SyncPool::SyncPool(int threads, std::chrono::microseconds stall_after)
    : queue_(static_cast<std::size_t>(std::max(1, threads)), stall_after) {
  threads_.resize(static_cast<std::size_t>(std::max(1, threads)));
  for (std::size_t i = 0; i < threads_.size(); ++i)
    threads_[i] = std::thread([this, i] { thread_main(i); });
}

SyncPool::~SyncPool() { join(); }

void SyncPool::post(std::function<void()> task) { queue_.push(std::move(task)); }

void SyncPool::join() {
  queue_.close();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void SyncPool::thread_main(std::size_t index) {
  while (auto task = queue_.take(index)) {
    try {
      (*task)();
    } catch (const std::exception& e) {
      spdlog::error(R"({{"event":"sync_task_exception","error":{}}})", json_quoted(e.what()));
    } catch (...) {
      spdlog::error(R"({{"event":"sync_task_exception","error":"unknown"}})");
    }
    task.reset();  // release the task's captures before counting it done
    queue_.done(index);
  }
}

}  // namespace streamer
