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

// One connection: keeps `depth` requests outstanding until the window ends.
asio::awaitable<void> closed_conn(std::unique_ptr<Ws> ws, const Common& c, int depth, Window w,
                                  ThreadStats& st) {
  std::array<Clock::time_point, 64> sent{};
  std::string out;
  beast::flat_buffer buf;
  uint64_t seq = 0;
  try {
    for (int i = 0; i < depth; ++i, ++seq) {
      build_health(out, c.id_prefix, seq);
      sent[seq % sent.size()] = Clock::now();
      co_await ws->async_write(asio::buffer(out), asio::use_awaitable);
    }
    while (true) {
      co_await ws->async_read(buf, asio::use_awaitable);
      const auto now = Clock::now();
      const std::string_view msg(static_cast<const char*>(buf.data().data()), buf.size());
      const auto m = classify(msg);
      if (w.inside(now)) {
        if (m.kind == MsgKind::success || m.kind == MsgKind::echo) {
          ++st.completed;
          st.latency.record(uint64_t((now - sent[m.seq % sent.size()]).count()));
        } else {
          ++st.errors;
          st.last_error = std::string(msg.substr(0, 300));
        }
      }
      buf.consume(buf.size());
      if (now >= w.end) break;
      build_health(out, c.id_prefix, seq);
      sent[seq % sent.size()] = Clock::now();
      ++seq;
      co_await ws->async_write(asio::buffer(out), asio::use_awaitable);
    }
  } catch (const std::exception& e) {
    st.last_error = std::string("closed loop: ") + e.what();
    ++st.errors;
  }
}

}  // namespace

boost::json::object run_sync_closed(const Options& o) {
  const Common c = read_common(o);
  const int depth = int(std::clamp<long>(o.integer("depth", 1), 1, 60));
  ClientPool pool(c.threads);
  auto conns = open_connections(pool, c);
  const Window w = make_window(c);
  for (int t = 0; t < pool.size(); ++t)
    for (auto& ws : conns[size_t(t)])
      asio::co_spawn(pool.ctx(t), closed_conn(std::move(ws), c, depth, w, pool.stats(t)),
                     asio::detached);
  CpuSampler cpu(c.server_pids, w);
  pool.run_until(w.end + std::chrono::milliseconds(300));
  auto r = result_json("closed", c, pool.merged(), cpu.seconds());
  r["depth"] = depth;
  return r;
}

}  // namespace bench
