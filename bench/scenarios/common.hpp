#pragma once
// Pieces every scenario shares: target/options decoding, opening N connections before
// the clock starts, server CPU sampling over the window, and JSON of the results.
#include <sys/types.h>
#include <boost/json/object.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/client_pool.hpp"
#include "lib/options.hpp"
#include "lib/ws_connect.hpp"

namespace bench {

struct Common {
  Target target;
  int threads = 2;
  int connections = 100;
  double warmup_s = 1.0;
  double duration_s = 5.0;
  pid_t server_pid = 0;            // 0: no server-side sampling (first of --server-pid a,b,...)
  std::vector<pid_t> server_pids;  // all of them: CPU is summed (e.g. Node + Redis)
  bool spread_sources = true;
  std::string label;      // free text copied into the JSON (server name)
  std::string id_prefix;  // unique per process, so async ids never repeat
};

// Reads --url --threads --connections --warmup --duration --server-pid --spread --label.
Common read_common(const Options& o);

// Opens `c.connections` connections spread over the pool's threads (bounded parallel
// connects per thread) and returns them per thread. Failures are counted in stats.
std::vector<std::vector<std::unique_ptr<Ws>>> open_connections(ClientPool& pool, const Common& c);

// The measurement window starting now: warm-up, then the measured duration.
Window make_window(const Common& c);

// Samples the servers' summed CPU seconds at the start and end of a window on its own thread.
class CpuSampler {
 public:
  CpuSampler(std::vector<pid_t> pids, Window w);
  ~CpuSampler();
  // Server CPU seconds spent inside the window (joins the thread); -1 without a pid.
  double seconds();

 private:
  double total(const std::vector<pid_t>& pids) const;
  std::vector<pid_t> pids_;
  double start_ = -1, end_ = -1;
  std::thread thread_;
};

// Common result fields: scenario, label, connections, window, counts, rates, latency
// quantiles (microseconds) and server CPU per 100k completed operations.
boost::json::object result_json(const std::string& scenario, const Common& c, const ThreadStats& s,
                                double server_cpu_s);

}  // namespace bench
