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
#include <map>
#include <mutex>
#include <sstream>
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

int64_t steady_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The step a `delay` job's progress message reports ("steps_done":N); -1 if none.
int step_of(std::string_view msg) {
  constexpr std::string_view kField = R"("steps_done":)";
  for (auto at = msg.find(kField); at != std::string_view::npos; at = msg.find(kField, at + 1)) {
    const auto p = at + kField.size();
    if (p < msg.size() && msg[p] >= '0' && msg[p] <= '9') return std::atoi(msg.data() + p);
  }
  return -1;
}

// Arrivals of one (job, progress value) over a child's connections (steady clock, ns).
struct Arrivals {
  long count = 0;
  int64_t first = 0, last = 0;
};

struct ChildState {
  std::mutex mutex;
  std::map<std::pair<long, int>, Arrivals> arrivals;
  std::atomic<long> subscribed{0}, failed{0};
};

// Subscribes one connection to `job_id`, then records when each of its progress steps
// arrives, until the connection or the process ends.
asio::awaitable<void> subscriber(std::unique_ptr<Ws> ws, std::string job_id, long job,
                                 ChildState& cs, ThreadStats& st) {
  beast::flat_buffer buf;
  try {
    const std::string out =
        R"({"id":"s1","action":"subscribe","payload":{"request_id":")" + job_id + R"("}})";
    co_await ws->async_write(asio::buffer(out), asio::use_awaitable);
    bool confirmed = false;
    while (true) {
      buf.consume(buf.size());
      co_await ws->async_read(buf, asio::use_awaitable);
      const auto now = Clock::now();
      const std::string_view msg(static_cast<const char*>(buf.data().data()), buf.size());
      const auto m = classify(msg);
      if (!confirmed) {
        if (m.kind == MsgKind::success) {
          confirmed = true;
          ++cs.subscribed;
          continue;
        }
        if (m.kind == MsgKind::progress) continue;  // raced the answer: not counted
        st.last_error = std::string(msg.substr(0, 300));
        ++cs.failed;
        co_return;
      }
      if (m.kind != MsgKind::progress) continue;
      const int value = step_of(msg);
      std::lock_guard lock(cs.mutex);
      auto& a = cs.arrivals[{job, value}];
      const auto t = steady_ns(now);
      if (a.count++ == 0) a.first = t;
      a.first = std::min(a.first, t);
      a.last = std::max(a.last, t);
    }
  } catch (const std::exception& e) {
    st.last_error = std::string("subscriber: ") + e.what();
  }
}

}  // namespace

int run_subscriber_worker(const Options& o) {
  const Common c = read_common(o);
  const long jobs = o.integer("jobs", 1000);
  const long first = o.integer("first", 0);  // this child's first connection, globally
  const std::string job_prefix = o.str("job-prefix", "job");
  ClientPool pool(c.threads);
  auto conns = open_connections(pool, c);
  ChildState cs;
  long index = first;
  for (int t = 0; t < pool.size(); ++t)
    for (auto& ws : conns[size_t(t)]) {
      const long job = index++ % jobs;
      asio::co_spawn(
          pool.ctx(t),
          subscriber(std::move(ws), job_prefix + std::to_string(job), job, cs, pool.stats(t)),
          asio::detached);
    }
  const long opened = long(pool.merged().connected);
  std::thread runner(
      [&] { pool.run_until(Clock::now() + std::chrono::seconds(o.integer("hold", 600))); });
  announce_ready_and_hold(
      c.connections, std::chrono::seconds(120), [&] { return cs.subscribed + cs.failed >= opened; },
      [&] { return cs.subscribed.load(); });
  {
    std::lock_guard lock(cs.mutex);
    for (const auto& [key, a] : cs.arrivals)
      std::printf("STEP %ld %d %ld %lld %lld\n", key.first, key.second, a.count,
                  static_cast<long long>(a.first), static_cast<long long>(a.last));
  }
  std::printf("END\n");
  std::fflush(stdout);
  for (int t = 0; t < pool.size(); ++t) pool.ctx(t).stop();
  runner.join();
  const auto s = pool.merged();
  if (!s.last_error.empty()) std::fprintf(stderr, "subscriber worker: %s\n", s.last_error.c_str());
  return 0;
}

boost::json::object run_subscribers(const Options& o, const char* self_exe) {
  const Common c = read_common(o);
  const int procs = int(o.integer("procs", 6));
  const long jobs = o.integer("jobs", 1000);
  const double observe_s = o.num("observe", 25);
  std::vector<std::string> urls;
  {
    std::stringstream ss(o.str("urls", o.str("url")));
    for (std::string u; std::getline(ss, u, ',');)
      if (!u.empty()) urls.push_back(u);
  }
  // The jobs: long `delay` jobs with a progress step every --step-ms, submitted on one
  // connection to the first gateway, all running before anyone subscribes.
  const std::string job_prefix = c.id_prefix + "job";
  const long job_ms = o.integer("job-ms", 600000);
  const int steps = int(o.integer("steps", 60));
  ClientPool driver_pool(1);
  Common dc = c;
  dc.connections = 1;
  dc.target = parse_ws_url(urls.front());
  auto driver = open_connections(driver_pool, dc);
  if (driver.empty() || driver[0].empty()) throw std::runtime_error("driver connection failed");
  std::atomic<long> queued{0};
  asio::co_spawn(
      driver_pool.ctx(0),
      [&, ws = std::move(driver[0][0])]() mutable -> asio::awaitable<void> {
        std::string out;
        beast::flat_buffer buf;
        try {
          // At most kWindow submits unanswered (below the per-connection request bound).
          constexpr long kWindow = 50;
          long sent = 0;
          while (queued < jobs) {
            while (sent < jobs && sent - queued < kWindow) {
              build_delay(out, job_prefix, uint64_t(sent++), int(job_ms), steps);
              co_await ws->async_write(asio::buffer(out), asio::use_awaitable);
            }
            buf.consume(buf.size());
            co_await ws->async_read(buf, asio::use_awaitable);
            const auto m =
                classify(std::string_view(static_cast<const char*>(buf.data().data()), buf.size()));
            if (m.kind == MsgKind::queued) ++queued;
            if (m.kind == MsgKind::error)
              throw std::runtime_error(
                  std::string(static_cast<const char*>(buf.data().data()), buf.size()));
          }
          while (true) {  // keep the connection (its progress is not counted)
            buf.consume(buf.size());
            co_await ws->async_read(buf, asio::use_awaitable);
          }
        } catch (const std::exception& e) {
          std::fprintf(stderr, "subscribers driver: %s\n", e.what());
        }
      },
      asio::detached);
  std::thread driver_thread(
      [&] { driver_pool.run_until(Clock::now() + std::chrono::seconds(long(observe_s) + 300)); });
  const auto submit_start = Clock::now();
  const auto submit_deadline = submit_start + std::chrono::seconds(60);
  while (queued < jobs && Clock::now() < submit_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double submit_s = std::chrono::duration<double>(Clock::now() - submit_start).count();
  const long jobs_queued = queued.load();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let the workers claim them

  long baseline = 0;
  for (auto pid : c.server_pids) baseline += process_rss_kib(pid);
  std::vector<Child> children;
  long next = 0;
  for (int i = 0; i < procs; ++i) {
    const int share = c.connections / procs + (i < c.connections % procs ? 1 : 0);
    children.push_back(spawn_child(
        self_exe, {"subscriber-worker", "--url", urls[size_t(i) % urls.size()], "--connections",
                   std::to_string(share), "--threads", "1", "--jobs", std::to_string(jobs),
                   "--first", std::to_string(next), "--job-prefix", job_prefix, "--hold",
                   std::to_string(long(observe_s) + 300)}));
    next += share;
  }
  long held = 0, failed = 0;
  const auto t0 = Clock::now();
  for (auto& ch : children) {
    long h = 0, f = 0;
    if (read_ready(ch.from_child, 300, h, f)) {
      held += h;
      failed += f;
    }
  }
  const auto ready = Clock::now();
  const double open_s = std::chrono::duration<double>(ready - t0).count();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long rss = 0;
  for (auto pid : c.server_pids) rss += process_rss_kib(pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, observe_s - 2)));
  // Merge every child's arrivals per (job, step).
  std::map<std::pair<long, int>, Arrivals> all;
  for (auto& ch : children) {
    close(ch.to_child);
    for (const auto& line : read_lines_until(ch.from_child, "END", 60)) {
      long job = 0, count = 0;
      int value = 0;
      long long a = 0, b = 0;
      if (std::sscanf(line.c_str(), "STEP %ld %d %ld %lld %lld", &job, &value, &count, &a, &b) != 5)
        continue;
      auto& m = all[{job, value}];
      if (m.count == 0) m.first = a;
      m.first = std::min<int64_t>(m.first, a);
      m.last = std::max<int64_t>(m.last, b);
      m.count += count;
    }
  }
  reap(children);
  // A step counts when it began after every client was subscribed: per step value, the
  // clients reached, first and last arrival over all jobs, and the worst per-job spread.
  const int64_t ready_ns = steady_ns(ready);
  std::map<int, Arrivals> steps_seen;
  std::map<int, int64_t> worst_job_spread;
  for (const auto& [key, a] : all) {
    if (a.first < ready_ns) continue;
    auto& s = steps_seen[key.second];
    if (s.count == 0) s.first = a.first;
    s.first = std::min(s.first, a.first);
    s.last = std::max(s.last, a.last);
    s.count += a.count;
    worst_job_spread[key.second] = std::max(worst_job_spread[key.second], a.last - a.first);
  }
  boost::json::object r;
  r["scenario"] = "subscribers";
  r["label"] = c.label;
  r["connections"] = c.connections;
  r["gateways"] = long(urls.size());
  r["procs"] = procs;
  r["jobs"] = jobs;
  r["jobs_queued"] = jobs_queued;
  r["submit_s"] = submit_s;
  r["held"] = held;
  r["failed"] = failed;
  r["open_s"] = open_s;
  r["gateway_rss_baseline_kib"] = baseline;
  r["gateway_rss_kib"] = rss;
  r["rss_per_conn_kib"] = held > 0 ? double(rss - baseline) / double(held) : -1.0;
  boost::json::array st;
  for (const auto& [value, a] : steps_seen) {
    boost::json::object one;
    one["step"] = value;
    one["clients"] = a.count;
    one["first_to_last_ms"] = double(a.last - a.first) / 1e6;
    one["worst_job_spread_ms"] = double(worst_job_spread[value]) / 1e6;
    st.push_back(one);
    // The first step every client received: the headline.
    if (!r.contains("step_ms") && a.count >= held && held > 0) {
      r["step"] = value;
      r["step_ms"] = double(a.last - a.first) / 1e6;
      r["step_worst_job_ms"] = double(worst_job_spread[value]) / 1e6;
    }
  }
  r["steps"] = st;
  driver_pool.ctx(0).stop();
  driver_thread.join();
  return r;
}

}  // namespace bench
