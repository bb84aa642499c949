#include "jobs/waiting_lane.hpp"

#include <pthread.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <optional>

namespace streamer {
namespace asio = boost::asio;

struct WaitingLane::Io {
  asio::io_context context{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      context.get_executor()};
};

WaitingLane::WaitingLane(std::size_t max_running, Run run)
    : max_running_(max_running), run_(std::move(run)), io_(std::make_unique<Io>()) {}

WaitingLane::~WaitingLane() { stop(); }

void WaitingLane::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "jobs-waiting");
    io_->context.run();
  });
}

std::vector<Lease> WaitingLane::admit(std::vector<Lease> leases) {
  std::vector<Lease> to_start;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return leases;
    const auto now = Clock::now();
    for (auto& lease : leases) {
      if (running_ < max_running_) {
        ++running_;
        to_start.push_back(std::move(lease));
      } else {
        parked_.push_back({std::move(lease), now});
      }
    }
  }
  for (auto& lease : to_start) spawn(std::move(lease));
  return {};
}

void WaitingLane::spawn(Lease lease) {
  // A strand per job: its coroutine and the cancels posted to its timer never run at
  // the same time, however many threads run the context.
  asio::co_spawn(asio::make_strand(io_->context), run_then_end(std::move(lease)), asio::detached);
}

asio::awaitable<void> WaitingLane::run_then_end(Lease lease) {
  co_await run_(std::move(lease));
  ended();
}

void WaitingLane::ended() {
  std::optional<Lease> next;
  {
    std::lock_guard lock(mutex_);
    --running_;
    if (!closed_ && !parked_.empty()) {
      next = std::move(parked_.front().lease);
      parked_.pop_front();
      ++running_;
    }
    if (running_ == 0) idle_.notify_all();
  }
  if (next) spawn(std::move(*next));
}

std::size_t WaitingLane::room() const {
  std::lock_guard lock(mutex_);
  if (closed_) return 0;
  const std::size_t used = running_ + parked_.size();
  return used < max_running_ ? max_running_ - used : 0;
}

std::size_t WaitingLane::parked() const {
  std::lock_guard lock(mutex_);
  return parked_.size();
}

std::size_t WaitingLane::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

std::vector<Lease> WaitingLane::take_parked_older_than(Clock::duration age) {
  const auto cutoff = Clock::now() - age;
  std::vector<Lease> out;
  std::lock_guard lock(mutex_);
  while (!parked_.empty() && parked_.front().since < cutoff) {
    out.push_back(std::move(parked_.front().lease));
    parked_.pop_front();
  }
  return out;
}

std::vector<Lease> WaitingLane::take_parked_if(const std::function<bool(const Lease&)>& pred) {
  std::vector<Lease> out;
  std::lock_guard lock(mutex_);
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (pred(it->lease)) {
      out.push_back(std::move(it->lease));
      it = parked_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<Lease> WaitingLane::close() {
  std::vector<Lease> out;
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& p : parked_) out.push_back(std::move(p.lease));
  parked_.clear();
  return out;
}

bool WaitingLane::wait_idle(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, deadline, [this] { return running_ == 0; });
}

void WaitingLane::stop() {
  close();
  io_->work.reset();
  io_->context.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace streamer
