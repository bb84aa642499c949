#include "scenarios/common.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "lib/proc_stats.hpp"

namespace asio = boost::asio;

namespace bench {

Common read_common(const Options& o) {
  Common c;
  c.target = parse_ws_url(o.str("url", "ws://127.0.0.1:8080/production"));
  c.threads = int(o.integer("threads", 2));
  c.connections = int(o.integer("connections", 100));
  c.warmup_s = o.num("warmup", 1.0);
  c.duration_s = o.num("duration", 5.0);
  std::string pids = o.str("server-pid", "");
  for (size_t at = 0; at < pids.size();) {
    const auto comma = pids.find(',', at);
    const auto one = pids.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!one.empty() && std::stol(one) > 0) c.server_pids.push_back(pid_t(std::stol(one)));
    at = comma == std::string::npos ? pids.size() : comma + 1;
  }
  c.server_pid = c.server_pids.empty() ? 0 : c.server_pids.front();
  c.spread_sources = o.integer("spread", 1) != 0;
  c.label = o.str("label", "");
  c.id_prefix = "b" + std::to_string(random_salt()) + ".";
  return c;
}

namespace {

struct OpenState {
  int next = 0;  // index within this thread's share
  int share = 0;
};

asio::awaitable<void> connector(const Common& c, ThreadStats& stats, OpenState& st,
                                std::vector<std::unique_ptr<Ws>>& out, int thread, int threads,
                                uint32_t salt) {
  while (st.next < st.share) {
    const int global = thread + threads * st.next++;
    // 32 connections per source address keeps each address far below 100/min.
    const auto src =
        c.spread_sources ? loopback_source(salt, uint32_t(global / 32)) : asio::ip::address_v4();
    try {
      out.push_back(co_await connect_ws(c.target, src));
      ++stats.connected;
    } catch (const std::exception& e) {
      ++stats.connect_failures;
      stats.last_error = std::string("connect: ") + e.what();
    }
  }
}

}  // namespace

std::vector<std::vector<std::unique_ptr<Ws>>> open_connections(ClientPool& pool, const Common& c) {
  const int threads = pool.size();
  std::vector<std::vector<std::unique_ptr<Ws>>> conns(static_cast<size_t>(threads));
  std::vector<OpenState> states(static_cast<size_t>(threads));
  const uint32_t salt = random_salt();
  for (int t = 0; t < threads; ++t) {
    states[size_t(t)].share = c.connections / threads + (t < c.connections % threads ? 1 : 0);
    for (int k = 0; k < 32; ++k)
      asio::co_spawn(
          pool.ctx(t),
          connector(c, pool.stats(t), states[size_t(t)], conns[size_t(t)], t, threads, salt),
          asio::detached);
  }
  pool.run_until(Clock::now() + std::chrono::seconds(120));
  for (int t = 0; t < threads; ++t) pool.ctx(t).restart();
  return conns;
}

Window make_window(const Common& c) {
  const auto start = Clock::now();
  const auto secs = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  return Window{start + secs(c.warmup_s), start + secs(c.warmup_s + c.duration_s)};
}

CpuSampler::CpuSampler(std::vector<pid_t> pids, Window w) : pids_(std::move(pids)) {
  if (pids_.empty()) return;
  thread_ = std::thread([this, w] {
    std::this_thread::sleep_until(w.warm_end);
    start_ = total(pids_);
    std::this_thread::sleep_until(w.end);
    end_ = total(pids_);
  });
}

double CpuSampler::total(const std::vector<pid_t>& pids) const {
  double sum = 0;
  for (const auto pid : pids) {
    const double s = process_cpu_seconds(pid);
    if (s < 0) return -1;
    sum += s;
  }
  return sum;
}

CpuSampler::~CpuSampler() {
  if (thread_.joinable()) thread_.join();
}

double CpuSampler::seconds() {
  if (thread_.joinable()) thread_.join();
  if (start_ < 0 || end_ < 0) return -1;
  return end_ - start_;
}

boost::json::object result_json(const std::string& scenario, const Common& c, const ThreadStats& s,
                                double server_cpu_s) {
  boost::json::object o;
  o["scenario"] = scenario;
  o["label"] = c.label;
  o["connections"] = c.connections;
  o["connected"] = s.connected;
  o["connect_failures"] = s.connect_failures;
  o["threads"] = c.threads;
  o["duration_s"] = c.duration_s;
  o["completed"] = s.completed;
  o["errors"] = s.errors;
  o["progress"] = s.progress;
  o["per_s"] = double(s.completed) / c.duration_s;
  o["progress_per_s"] = double(s.progress) / c.duration_s;
  o["p50_us"] = double(s.latency.quantile(0.50)) / 1e3;
  o["p99_us"] = double(s.latency.quantile(0.99)) / 1e3;
  o["p999_us"] = double(s.latency.quantile(0.999)) / 1e3;
  o["max_us"] = double(s.latency.max()) / 1e3;
  o["mean_us"] = s.latency.mean() / 1e3;
  o["server_cpu_s"] = server_cpu_s;
  o["server_cpu_s_per_100k"] =
      (server_cpu_s >= 0 && s.completed > 0) ? server_cpu_s * 1e5 / double(s.completed) : -1.0;
  if (!s.last_error.empty()) o["last_error"] = s.last_error;
  return o;
}

}  // namespace bench
