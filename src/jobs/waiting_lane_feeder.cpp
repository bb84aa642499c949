#include "jobs/waiting_lane_feeder.hpp"

#include <pthread.h>

#include <algorithm>

#include "core/log_event.hpp"

namespace streamer {

WaitingLaneFeeder::WaitingLaneFeeder(JobStore& store, WaitingLane& lane,
                                     WaitingLaneFeederOptions options, GiveBack give_back)
    : store_(store), lane_(lane), options_(std::move(options)), give_back_(std::move(give_back)) {}

WaitingLaneFeeder::~WaitingLaneFeeder() { stop(); }

void WaitingLaneFeeder::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void WaitingLaneFeeder::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
    ++wakes_;
    nothing_runnable_ = false;
  }
  cv_.notify_one();
}

void WaitingLaneFeeder::room_freed() {
  {
    std::lock_guard lock(mutex_);
    if (nothing_runnable_) return;
    woken_ = true;
  }
  cv_.notify_one();
}

void WaitingLaneFeeder::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void WaitingLaneFeeder::run() {
  pthread_setname_np(pthread_self(), "jobs-waitfeed");
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait_for(lock, options_.poll, [this] { return woken_ || stopping_; });
    if (stopping_) return;
    woken_ = false;
    lock.unlock();
    bool more = true;
    // While a look fills its request, more may be runnable: look again (bounded by the
    // lane's room, which each admitted job takes).
    for (int looks = 0; more && looks < 64; ++looks) {
      try {
        more = claim_once();
      } catch (const std::exception& e) {
        log_event(spdlog::level::warn, "store_error",
                  {{"op", "claim_waiting"}, {"error", e.what()}});
        more = false;
      }
    }
    lock.lock();
  }
}

bool WaitingLaneFeeder::claim_once() {
  const std::size_t want = std::min(lane_.room(), options_.batch);
  if (want == 0) return false;
  std::uint64_t wakes_before = 0;
  {
    std::lock_guard lock(mutex_);
    wakes_before = wakes_;
  }
  auto claims = store_.claim_lane(kWaitingLane, "", options_.worker_id, options_.lease_ttl, want);
  const std::size_t got = claims.leases.size();
  claimed_ += got;
  if (got < want && !claims.capped) {
    // Everything runnable was taken and none left for a bound: a run ending cannot
    // make more claimable, only a wake() (which may have come during this look) can.
    std::lock_guard lock(mutex_);
    nothing_runnable_ = wakes_ == wakes_before;
  }
  if (got == 0) return false;
  auto refused = lane_.admit(std::move(claims.leases));
  if (!refused.empty()) {
    give_back_(refused);
    return false;
  }
  return got == want;
}

}  // namespace streamer
