#include "lib/client_pool.hpp"

#include <random>
#include <thread>

namespace bench {

ClientPool::ClientPool(int threads) : stats_(size_t(threads > 0 ? threads : 1)) {
  for (size_t i = 0; i < stats_.size(); ++i)
    ctx_.push_back(std::make_unique<boost::asio::io_context>(1));
}

ClientPool::~ClientPool() {
  // Destroy contexts (and the coroutine frames that own connections) before stats.
  ctx_.clear();
}

void ClientPool::run_until(Clock::time_point deadline) {
  std::vector<std::thread> threads;
  for (auto& c : ctx_) {
    threads.emplace_back([&c, deadline] {
      while (!c->stopped() && Clock::now() < deadline) c->run_for(std::chrono::milliseconds(50));
      c->stop();
    });
  }
  for (auto& t : threads) t.join();
}

ThreadStats ClientPool::merged() const {
  ThreadStats m;
  for (const auto& s : stats_) {
    m.latency.merge(s.latency);
    m.completed += s.completed;
    m.progress += s.progress;
    m.errors += s.errors;
    m.connect_failures += s.connect_failures;
    m.connected += s.connected;
    if (!s.last_error.empty()) m.last_error = s.last_error;
  }
  return m;
}

uint32_t random_salt() {
  std::random_device rd;
  return rd();
}

}  // namespace bench
