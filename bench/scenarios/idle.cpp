#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "lib/proc_stats.hpp"
#include "lib/wire.hpp"
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

// Spawned child with a pipe to its stdin (we hold the write end) and from its stdout.
struct Child {
  pid_t pid = -1;
  int to_child = -1;
  int from_child = -1;
};

// Starts `exe args...` with piped stdin/stdout; stderr is inherited.
Child spawn_child(const char* exe, const std::vector<std::string>& args) {
  int in_pipe[2], out_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) throw std::runtime_error("pipe failed");
  Child ch;
  ch.pid = fork();
  if (ch.pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    close(in_pipe[1]);
    close(out_pipe[0]);
    std::vector<char*> argv{const_cast<char*>(exe)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(exe, argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  ch.to_child = in_pipe[1];
  ch.from_child = out_pipe[0];
  return ch;
}

// Reads the child's "READY held failed" line, waiting at most `timeout_s`.
bool read_ready(int fd, double timeout_s, long& held, long& failed) {
  std::string line;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char ch;
    if (read(fd, &ch, 1) != 1) return false;
    if (ch == '\n') return std::sscanf(line.c_str(), "READY %ld %ld", &held, &failed) == 2;
    line += ch;
  }
  return false;
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
  std::thread runner(
      [&] { pool.run_until(Clock::now() + std::chrono::seconds(long(hold_s))); });
  const auto confirm_deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < confirm_deadline && ok + failed < opened)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::printf("READY %ld %ld\n", ok.load(), long(c.connections) - ok.load());
  std::fflush(stdout);
  char byte;
  while (read(0, &byte, 1) > 0) {
  }  // hold until the parent closes our stdin (or --hold passes and we are killed)
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
                   "--threads", "1", "--hold", std::to_string(o.num("hold", 120)),
                   "--spread", std::to_string(c.spread_sources ? 1 : 0)}));
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
  for (auto& ch : children) {
    int status = 0;
    for (int i = 0; i < 100 && waitpid(ch.pid, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (waitpid(ch.pid, &status, WNOHANG) == 0) {
      kill(ch.pid, SIGKILL);
      waitpid(ch.pid, &status, 0);
    }
    close(ch.from_child);
  }
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
