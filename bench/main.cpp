// streamer-bench: the load generator behind `make bench`.
//   streamer-bench closed|open|async|async-open|idle|subscribers --url
//   ws://127.0.0.1:PORT/production?Authorization=JWT
//                  [--threads 2] [--connections N] [--warmup S] [--duration S]
//                  [--server-pid PID] [--label NAME] [--out FILE.jsonl]
//   closed: --depth D            open: --rate R/s
//   async:  --depth D --delay-ms MS --steps K [--action delay]    idle: --procs P --settle S
//   async-open: --rate R/s --delay-ms MS --steps K
//   subscribers: --urls U1,U2 --procs P --jobs J --job-ms MS --steps K --observe S
// Prints one JSON object per run on stdout (and appends it to --out when given).
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "lib/options.hpp"
#include "scenarios/scenarios.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: streamer-bench closed|open|async|idle --url URL [options]\n";
    return 64;
  }
  const std::string scenario = argv[1];
  try {
    const bench::Options o(argc, argv, 2);
    if (scenario == "idle-worker") return bench::run_idle_worker(o);
    if (scenario == "subscriber-worker") return bench::run_subscriber_worker(o);
    boost::json::object r;
    if (scenario == "closed")
      r = bench::run_sync_closed(o);
    else if (scenario == "open")
      r = bench::run_sync_open(o);
    else if (scenario == "async")
      r = bench::run_async_jobs(o);
    else if (scenario == "async-open")
      r = bench::run_async_open(o);
    else if (scenario == "idle")
      r = bench::run_idle(o, "/proc/self/exe");
    else if (scenario == "subscribers")
      r = bench::run_subscribers(o, "/proc/self/exe");
    else {
      std::cerr << "unknown scenario " << scenario << "\n";
      return 64;
    }
    const std::string line = boost::json::serialize(r);
    std::cout << line << std::endl;
    if (o.has("out")) std::ofstream(o.str("out"), std::ios::app) << line << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "streamer-bench " << scenario << ": " << e.what() << "\n";
    return 1;
  }
}
