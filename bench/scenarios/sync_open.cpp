#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <vector>

#include "lib/wire.hpp"
#include "scenarios/common.hpp"
#include "scenarios/open_loop.hpp"
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
  pace_connections(pool, conns, c, rate, [&](int t, auto ws, auto interval, auto first) {
    auto oc = std::make_shared<OpenConn>();
    oc->ws = std::move(ws);
    auto build = [oc, prefix = c.id_prefix](std::string& out, uint64_t seq, auto due) {
      build_health(out, prefix, seq);
      oc->scheduled[seq % kRing] = due;
    };
    asio::co_spawn(pool.ctx(t),
                   paced_writer(oc, kRing, interval, first, w, pool.stats(t), "open writer", build),
                   asio::detached);
    asio::co_spawn(pool.ctx(t), open_reader(oc, w, pool.stats(t)), asio::detached);
  });
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
