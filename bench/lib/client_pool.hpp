#pragma once
// A fixed set of client threads, each running its own single-threaded io_context, and
// the per-thread counters the scenarios fill. Connections are placed round-robin; all
// state of a connection lives on its thread, so the hot path takes no locks.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/histogram.hpp"
#include "lib/ws_connect.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

struct ThreadStats {
  LatencyHistogram latency;       // per scenario: round trip or request->result
  uint64_t completed = 0;         // responses / results inside the window
  uint64_t progress = 0;          // progress messages inside the window
  uint64_t errors = 0;            // error messages inside the window
  uint64_t connect_failures = 0;  // connections that failed to open
  uint64_t connected = 0;         // connections opened
  std::string last_error;         // text of the last error seen (diagnostics)
};

// Measurement window shared by all threads: [warm_end, end); stop at `end`.
struct Window {
  Clock::time_point warm_end;
  Clock::time_point end;
  bool inside(Clock::time_point t) const { return t >= warm_end && t < end; }
};

class ClientPool {
 public:
  explicit ClientPool(int threads);
  ~ClientPool();
  int size() const { return int(ctx_.size()); }
  boost::asio::io_context& ctx(int i) { return *ctx_[size_t(i) % ctx_.size()]; }
  ThreadStats& stats(int i) { return stats_[size_t(i) % stats_.size()]; }
  // Runs every io_context on its own thread until all work is done or `deadline`;
  // then stops them and joins.
  void run_until(Clock::time_point deadline);
  // Sum of all threads' stats.
  ThreadStats merged() const;

 private:
  std::vector<std::unique_ptr<boost::asio::io_context>> ctx_;
  std::vector<ThreadStats> stats_;
};

// A random 32-bit value for request-id prefixes and source-address salts.
uint32_t random_salt();

}  // namespace bench
