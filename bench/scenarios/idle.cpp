#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "lib/proc_stats.hpp"
#include "lib/wire.hpp"
#include "scenarios/child_process.hpp"
#include "scenarios/common.hpp"
#include "scenarios/scenarios.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace bench {
namespace {

// Confirms one connection is authenticated (a health round trip succeeds), then keeps
// a read pending so pings are answered, until the connection or the process ends.
asio::awaitable<void> hold_conn(std::unique_ptr<Ws> ws, const Common& c, ThreadStats& st,
                                std::atomic<long>& ok, std::atomic<long>& failed) {
  beast::flat_buffer buf;
  bool confirmed = false;
  try {
    std::string out;
    build_health(out, c.id_prefix, 0);
    co_await ws->async_write(asio::buffer(out), asio::use_awaitable);
    co_await ws->async_read(buf, asio::use_awaitable);
    const std::string_view msg(static_cast<const char*>(buf.data().data()), buf.size());
    const auto kind = classify(msg).kind;
    confirmed = kind == MsgKind::success || kind == MsgKind::echo;
    if (!confirmed) st.last_error = std::string(msg.substr(0, 300));
  } catch (const std::exception& e) {
    st.last_error = std::string("idle: ") + e.what();
  }
  confirmed ? ++ok : ++failed;
  if (!confirmed) co_return;
  try {
    while (true) {
      buf.consume(buf.size());
      co_await ws->async_read(buf, asio::use_awaitable);
    }
  } catch (const std::exception&) {
  }
}

}  // namespace

int run_idle_worker(const Options& o) {
  const Common c = read_common(o);
  const double hold_s = o.num("hold", 60);
  ClientPool pool(c.threads);
  auto conns = open_connections(pool, c);
  std::atomic<long> ok{0}, failed{0};
  for (int t = 0; t < pool.size(); ++t)
    for (auto& ws : conns[size_t(t)])
      asio::co_spawn(pool.ctx(t), hold_conn(std::move(ws), c, pool.stats(t), ok, failed),
                     asio::detached);
  const long opened = long(pool.merged().connected);
  std::thread runner([&] { pool.run_until(Clock::now() + std::chrono::seconds(long(hold_s))); });
  // Held until the parent closes our stdin (or --hold passes and we are killed).
  announce_ready_and_hold(
      c.connections, std::chrono::seconds(60), [&] { return ok + failed >= opened; },
      [&] { return ok.load(); });
  for (int t = 0; t < pool.size(); ++t) pool.ctx(t).stop();
  runner.join();
  const auto s = pool.merged();
  if (!s.last_error.empty()) std::fprintf(stderr, "idle worker: %s\n", s.last_error.c_str());
  return 0;
}

boost::json::object run_idle(const Options& o, const char* self_exe) {
  const Common c = read_common(o);
  const int procs = int(o.integer("procs", 4));
  const double settle_s = o.num("settle", 2.0);
  const long baseline = c.server_pid > 0 ? process_rss_kib(c.server_pid) : -1;
  const long fds_before = c.server_pid > 0 ? process_open_fds(c.server_pid) : -1;
  std::vector<Child> children;
  for (int i = 0; i < procs; ++i) {
    const int share = c.connections / procs + (i < c.connections % procs ? 1 : 0);
    children.push_back(spawn_child(
        self_exe, {"idle-worker", "--url", o.str("url"), "--connections", std::to_string(share),
                   "--threads", "1", "--hold", std::to_string(o.num("hold", 120)), "--spread",
                   std::to_string(c.spread_sources ? 1 : 0)}));
  }
  long held = 0, failed = 0;
  const auto t0 = Clock::now();
  for (auto& ch : children) {
    long h = 0, f = 0;
    if (read_ready(ch.from_child, 150, h, f)) {
      held += h;
      failed += f;
    }
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::duration<double>(settle_s));
  const long rss = c.server_pid > 0 ? process_rss_kib(c.server_pid) : -1;
  const long fds = c.server_pid > 0 ? process_open_fds(c.server_pid) : -1;
  for (auto& ch : children) close(ch.to_child);
  reap(children);
  boost::json::object r;
  r["scenario"] = "idle";
  r["label"] = c.label;
  r["connections"] = c.connections;
  r["procs"] = procs;
  r["held"] = held;
  r["failed"] = failed;
  r["open_s"] = open_s;
  r["server_rss_baseline_kib"] = baseline;
  r["server_rss_kib"] = rss;
  r["server_fds_before"] = fds_before;
  r["server_fds"] = fds;
  r["rss_per_conn_kib"] = (held > 0 && rss >= 0) ? double(rss - baseline) / double(held) : -1.0;
  return r;
}

}  // namespace bench
