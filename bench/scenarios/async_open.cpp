#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <vector>

#include "lib/wire.hpp"
#include "scenarios/common.hpp"
#include "scenarios/open_loop.hpp"
#include "scenarios/scenarios.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace bench {
namespace {

constexpr uint64_t kRing = 4096;  // most jobs one connection may have unfinished

// One connection's jobs: when each was due, and whether it was heard of since `queued`.
struct OpenJobs {
  std::unique_ptr<Ws> ws;
  std::string prefix;
  std::vector<Clock::time_point> due = std::vector<Clock::time_point>(kRing);
  std::vector<bool> started = std::vector<bool>(kRing);
  uint64_t sent = 0;
  uint64_t answered = 0;  // jobs ended (result or error)
  bool done = false;
};

// Records, per job due inside the window, the time from its due time to the first sign
// that it runs (its first progress, or its result when none came first): an upper bound
// of submit -> claim as the client sees it.
asio::awaitable<void> jobs_reader(std::shared_ptr<OpenJobs> oj, Window w, ThreadStats& st) {
  beast::flat_buffer buf;
  try {
    while (!oj->done || oj->answered < oj->sent) {
      co_await oj->ws->async_read(buf, asio::use_awaitable);
      const auto now = Clock::now();
      const std::string_view msg(static_cast<const char*>(buf.data().data()), buf.size());
      const auto m = classify(msg);
      const auto slot = m.seq % kRing;
      const bool in = w.inside(oj->due[slot]);
      if (m.kind == MsgKind::progress || m.kind == MsgKind::result) {
        if (!oj->started[slot]) {
          oj->started[slot] = true;
          if (in) st.latency.record(uint64_t((now - oj->due[slot]).count()));
        }
        if (m.kind == MsgKind::progress && in) ++st.progress;
        if (m.kind == MsgKind::result) {
          ++oj->answered;
          if (in) ++st.completed;
        }
      } else if (m.kind == MsgKind::error && m.has_id) {
        ++oj->answered;
        if (in) {
          ++st.errors;
          st.last_error = std::string(msg.substr(0, 300));
        }
      }
      buf.consume(buf.size());
    }
  } catch (const std::exception& e) {
    if (!oj->done) {
      st.last_error = std::string("async open reader: ") + e.what();
      ++st.errors;
    }
  }
  oj->done = true;
}

}  // namespace

boost::json::object run_async_open(const Options& o) {
  const Common c = read_common(o);
  const double rate = o.num("rate", 1000);
  const int delay_ms = int(o.integer("delay-ms", 0));
  const int steps = int(o.integer("steps", 1));
  ClientPool pool(c.threads);
  auto conns = open_connections(pool, c);
  const Window w = make_window(c);
  int index = 0;
  pace_connections(pool, conns, c, rate, [&](int t, auto ws, auto interval, auto first) {
    auto oj = std::make_shared<OpenJobs>();
    oj->ws = std::move(ws);
    oj->prefix = c.id_prefix + std::to_string(index++) + ".";  // ids are idempotent per user
    auto build = [oj, delay_ms, steps](std::string& out, uint64_t seq, auto due) {
      build_delay(out, oj->prefix, seq, delay_ms, steps);
      oj->due[seq % kRing] = due;
      oj->started[seq % kRing] = false;
    };
    asio::co_spawn(
        pool.ctx(t),
        paced_writer(oj, kRing, interval, first, w, pool.stats(t), "async open writer", build),
        asio::detached);
    asio::co_spawn(pool.ctx(t), jobs_reader(oj, w, pool.stats(t)), asio::detached);
  });
  CpuSampler cpu(c.server_pids, w);
  pool.run_until(w.end + std::chrono::seconds(2));
  auto r = result_json("async-open", c, pool.merged(), cpu.seconds());
  r["offered_per_s"] = rate;
  r["latency"] = "request -> first progress or result";
  r["delay_ms"] = delay_ms;
  r["steps"] = steps;
  return r;
}

}  // namespace bench
