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
// Async open loop: --rate `delay` jobs/s in total on a fixed schedule; latency is from
// a job's due time to its first progress or result (it started: submit -> claim, bounded
// from above).
boost::json::object run_async_open(const Options& o);
// Subscribers: submits --jobs long `delay` jobs (--job-ms, --steps), then --procs child
// processes spread over --urls (comma-separated gateways) hold --connections connections,
// each subscribed to one job; reports gateway RSS per connection (--server-pid: the
// gateways) and, per progress step after all subscribed, how many clients it reached and
// the time from its first to its last arrival.
boost::json::object run_subscribers(const Options& o, const char* self_exe);
// Child of run_subscribers: subscribes its share, prints "READY <subscribed> <failed>",
// and when stdin closes prints "STEP <job> <progress> <count> <first_ns> <last_ns>" lines
// and "END".
int run_subscriber_worker(const Options& o);
// Idle: --procs child processes each hold --connections/--procs authenticated
// connections; reports how many were held and the server's RSS per connection.
boost::json::object run_idle(const Options& o, const char* self_exe);
// Child of run_idle: opens its share, confirms each with a health round trip, prints
// "READY <held> <failed>", and holds until stdin closes or --hold seconds pass.
int run_idle_worker(const Options& o);

}  // namespace bench
