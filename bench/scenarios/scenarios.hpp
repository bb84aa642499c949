#pragma once
// Entry points of the load generator's scenarios. Each runs once and returns its
// measurements as a JSON object (see result_json in common.hpp for the shared fields).
#include <boost/json/object.hpp>

#include "lib/options.hpp"

namespace bench {

// Closed loop: --depth requests outstanding per connection (health, or the echo
// server's reflection of it); throughput and round-trip latency.
boost::json::object run_sync_closed(const Options& o);
// Open loop: --rate requests/s in total on a fixed schedule; latency counted from the
// scheduled send time, so a stalled server cannot hide its stall.
boost::json::object run_sync_open(const Options& o);
// Async jobs: --depth `delay` jobs (--delay-ms, --steps) in flight per connection;
// jobs/s end to end, progress/s, and request->result latency.
boost::json::object run_async_jobs(const Options& o);
// Idle: --procs child processes each hold --connections/--procs authenticated
// connections; reports how many were held and the server's RSS per connection.
boost::json::object run_idle(const Options& o, const char* self_exe);
// Child of run_idle: opens its share, confirms each with a health round trip, prints
// "READY <held> <failed>", and holds until stdin closes or --hold seconds pass.
int run_idle_worker(const Options& o);

}  // namespace bench
