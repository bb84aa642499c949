#pragma once
// Open-loop pacing shared by the open scenarios: each connection sends on a fixed
// schedule whatever the server's answers, so queueing shows in the latency (measured from
// each message's due time) instead of slowing the offered rate down.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "scenarios/common.hpp"

namespace bench {

// Writes one connection's messages: the i-th is due at first + i*interval, and a late
// one is sent at once. At most `ring` may be unanswered (the writer waits, its schedule
// unchanged). `State` has `ws`, `sent`, `answered` and `done`; `build(out, seq, due)`
// writes message `seq` into `out` and records its due time. Sets `done` at the end of the
// window or on an error (counted in `st`, prefixed with `name`).
template <class State, class Build>
boost::asio::awaitable<void> paced_writer(std::shared_ptr<State> s, std::uint64_t ring,
                                          Clock::duration interval, Clock::time_point first,
                                          Window w, ThreadStats& st, const char* name,
                                          Build build) {
  namespace asio = boost::asio;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string out;
  auto due = first;
  try {
    while (due < w.end && !s->done) {
      timer.expires_at(due);
      co_await timer.async_wait(asio::use_awaitable);
      while (s->sent - s->answered >= ring && !s->done) {
        timer.expires_after(std::chrono::microseconds(200));
        co_await timer.async_wait(asio::use_awaitable);
      }
      build(out, s->sent, due);
      ++s->sent;
      co_await s->ws->async_write(asio::buffer(out), asio::use_awaitable);
      due += interval;
    }
  } catch (const std::exception& e) {
    st.last_error = std::string(name) + ": " + e.what();
    ++st.errors;
  }
  s->done = true;
}

// Starts every open connection of `conns` at `rate` messages/s in total: each gets
// interval = connections / rate and a random first due time within one interval, and
// `spawn(thread, ws, interval, first)` starts its writer and reader on its thread.
template <class Spawn>
void pace_connections(ClientPool& pool, std::vector<std::vector<std::unique_ptr<Ws>>>& conns,
                      const Common& c, double rate, Spawn spawn) {
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(double(c.connections) / rate));
  std::mt19937_64 rng(random_salt());
  std::uniform_int_distribution<int64_t> phase(0, interval.count());
  const auto start = Clock::now();
  for (int t = 0; t < pool.size(); ++t)
    for (auto& ws : conns[size_t(t)])
      spawn(t, std::move(ws), interval, start + Clock::duration(phase(rng)));
}

}  // namespace bench
