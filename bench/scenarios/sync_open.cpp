#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <random>
#include <vector>

#include "lib/wire.hpp"
#include "scenarios/common.hpp"
#include "scenarios/scenarios.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace bench {
namespace {

constexpr uint64_t kRing = 1024;  // most requests one connection may have outstanding

// State shared by the writer and reader of one connection (same thread).
struct OpenConn {
  std::unique_ptr<Ws> ws;
  std::vector<Clock::time_point> scheduled = std::vector<Clock::time_point>(kRing);
  uint64_t sent = 0;      // requests written
  uint64_t answered = 0;  // replies read
  bool done = false;
};

// Writes requests on a fixed schedule: the i-th is due at first + i*interval. When it
// falls behind it sends at once, but the latency still counts from the due time.
asio::awaitable<void> open_writer(std::shared_ptr<OpenConn> oc, const Common& c,
                                  Clock::duration interval, Clock::time_point first, Window w,
                                  ThreadStats& st) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::string out;
  auto due = first;
  try {
    while (due < w.end && !oc->done) {
      timer.expires_at(due);
      co_await timer.async_wait(asio::use_awaitable);
      while (oc->sent - oc->answered >= kRing && !oc->done) {  // ring full: wait, due fixed
        timer.expires_after(std::chrono::microseconds(200));
        co_await timer.async_wait(asio::use_awaitable);
      }
      build_health(out, c.id_prefix, oc->sent);
      oc->scheduled[oc->sent % kRing] = due;
      ++oc->sent;
      co_await oc->ws->async_write(asio::buffer(out), asio::use_awaitable);
      due += interval;
    }
  } catch (const std::exception& e) {
    st.last_error = std::string("open writer: ") + e.what();
    ++st.errors;
  }
  oc->done = true;
}

// Reads replies and records latency from each request's scheduled time.
asio::awaitable<void> open_reader(std::shared_ptr<OpenConn> oc, Window w, ThreadStats& st) {
  beast::flat_buffer buf;
  try {
    while (!oc->done || oc->answered < oc->sent) {
      co_await oc->ws->async_read(buf, asio::use_awaitable);
      const auto now = Clock::now();
      const std::string_view msg(static_cast<const char*>(buf.data().data()), buf.size());
      const auto m = classify(msg);
      ++oc->answered;
      const auto due = oc->scheduled[m.seq % kRing];
      if (w.inside(due)) {  // attribute to the window by scheduled time
        if (m.kind == MsgKind::success || m.kind == MsgKind::echo) {
          ++st.completed;
          st.latency.record(uint64_t((now - due).count()));
        } else {
          ++st.errors;
          st.last_error = std::string(msg.substr(0, 300));
        }
      }
      buf.consume(buf.size());
    }
  } catch (const std::exception& e) {
    if (!oc->done) {
      st.last_error = std::string("open reader: ") + e.what();
      ++st.errors;
    }
  }
  oc->done = true;
}

}  // namespace

boost::json::object run_sync_open(const Options& o) {
  const Common c = read_common(o);
  const double rate = o.num("rate", 10000);
  ClientPool pool(c.threads);
  auto conns = open_connections(pool, c);
  const Window w = make_window(c);
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(double(c.connections) / rate));
  std::mt19937_64 rng(random_salt());
  std::uniform_int_distribution<int64_t> phase(0, interval.count());
  const auto start = Clock::now();
  for (int t = 0; t < pool.size(); ++t)
    for (auto& ws : conns[size_t(t)]) {
      auto oc = std::make_shared<OpenConn>();
      oc->ws = std::move(ws);
      asio::co_spawn(pool.ctx(t),
                     open_writer(oc, c, interval, start + Clock::duration(phase(rng)), w,
                                 pool.stats(t)),
                     asio::detached);
      asio::co_spawn(pool.ctx(t), open_reader(oc, w, pool.stats(t)), asio::detached);
    }
  CpuSampler cpu(c.server_pids, w);
  // Replies to requests due before the end may arrive a little later; wait for them.
  pool.run_until(w.end + std::chrono::seconds(2));
  auto r = result_json("open", c, pool.merged(), cpu.seconds());
  r["offered_per_s"] = rate;
  // completed counts replies to requests due in the window (a late reply still counts).
  r["per_s"] = double(pool.merged().completed) / c.duration_s;
  return r;
}

}  // namespace bench
