#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <array>

#include "lib/wire.hpp"
#include "scenarios/common.hpp"
#include "scenarios/scenarios.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace bench {
namespace {

struct JobParams {
  int depth = 8;
  int delay_ms = 0;
  int steps = 1;
  std::string action = "delay";
};

// One connection: keeps `depth` delay jobs unfinished; a job ends with its result (or
// error) and is replaced at once. Latency is request sent -> result received.
asio::awaitable<void> jobs_conn(std::unique_ptr<Ws> ws, const Common& c, std::string id_prefix,
                                JobParams p, Window w, ThreadStats& st) {
  std::array<Clock::time_point, 64> sent{};
  std::string out;
  beast::flat_buffer buf;
  uint64_t seq = 0;
  auto send_next = [&]() -> asio::awaitable<void> {
    build_delay(out, id_prefix, seq, p.delay_ms, p.steps, p.action);
    sent[seq % sent.size()] = Clock::now();
    ++seq;
    co_await ws->async_write(asio::buffer(out), asio::use_awaitable);
  };
  try {
    for (int i = 0; i < p.depth; ++i) co_await send_next();
    while (true) {
      co_await ws->async_read(buf, asio::use_awaitable);
      const auto now = Clock::now();
      const std::string_view msg(static_cast<const char*>(buf.data().data()), buf.size());
      const auto m = classify(msg);
      const bool in = w.inside(now);
      bool finished = false;
      if (m.kind == MsgKind::progress) {
        if (in) ++st.progress;
      } else if (m.kind == MsgKind::result) {
        finished = true;
        if (in) {
          ++st.completed;
          st.latency.record(uint64_t((now - sent[m.seq % sent.size()]).count()));
        }
      } else if (m.kind == MsgKind::error) {
        finished = m.has_id;
        if (in) {
          ++st.errors;
          st.last_error = std::string(msg.substr(0, 300));
        }
      }
      buf.consume(buf.size());
      if (now >= w.end) break;
      if (finished) co_await send_next();
    }
  } catch (const std::exception& e) {
    st.last_error = std::string("jobs: ") + e.what();
    ++st.errors;
  }
}

}  // namespace

boost::json::object run_async_jobs(const Options& o) {
  const Common c = read_common(o);
  JobParams p;
  p.depth = int(std::clamp<long>(o.integer("depth", 8), 1, 60));
  p.delay_ms = int(o.integer("delay-ms", 0));
  p.steps = int(o.integer("steps", 1));
  p.action = o.str("action", "delay");
  ClientPool pool(c.threads);
  auto conns = open_connections(pool, c);
  const Window w = make_window(c);
  // Async request ids are idempotent per user: every connection needs its own ids, or
  // a resent id would be answered from the existing job instead of starting a new one.
  int index = 0;
  for (int t = 0; t < pool.size(); ++t)
    for (auto& ws : conns[size_t(t)])
      asio::co_spawn(pool.ctx(t),
                     jobs_conn(std::move(ws), c, c.id_prefix + std::to_string(index++) + ".", p, w,
                               pool.stats(t)),
                     asio::detached);
  CpuSampler cpu(c.server_pids, w);
  pool.run_until(w.end + std::chrono::milliseconds(300));
  auto r = result_json(p.steps > 1 ? "fanout" : "async", c, pool.merged(), cpu.seconds());
  r["depth"] = p.depth;
  r["delay_ms"] = p.delay_ms;
  r["steps"] = p.steps;
  r["action"] = p.action;
  return r;
}

}  // namespace bench
