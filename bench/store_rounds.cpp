// store-rounds: what one commit round of the embedded SQLite store costs while a tenant
// has a backlog of queued jobs (its queued bounds are then counted for every submit that
// waits). Each measured round submits --batch jobs that wait (no claims); between rounds,
// as many queued jobs are claimed and finished, outside the timing, so the backlog stays
// at --backlog. Prints one JSON line (label store:backlog-N; `make bench`, section `store`).
//   store-rounds [--backlog 900] [--batch 64] [--rounds 300] [--users 10]
// The store file is a temporary file, removed on exit; the bounds are the server's
// defaults (1,000 queued per tenant, 200 per user).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "jobs/sqlite_job_store.hpp"
#include "lib/options.hpp"

using namespace streamer;

namespace {

struct Options {
  int backlog, batch, rounds, users;
};

// `--key value` pairs, parsed as streamer-bench's are (bench/lib/options.hpp).
Options parse(int argc, char** argv) {
  const bench::Options args(argc, argv, 1);
  const Options o{
      static_cast<int>(args.integer("backlog", 900)), static_cast<int>(args.integer("batch", 64)),
      static_cast<int>(args.integer("rounds", 300)), static_cast<int>(args.integer("users", 10))};
  if (o.batch <= 0 || o.rounds <= 0 || o.users <= 0 || o.backlog < 0 ||
      o.backlog + o.batch > 1000) {
    std::fprintf(stderr, "need batch, rounds, users > 0 and backlog + batch <= 1000\n");
    std::exit(64);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o{};
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {  // a dangling --key or a value that is not a number
    std::fprintf(stderr, "%s\n", e.what());
    return 64;
  }
  const auto path = std::filesystem::temp_directory_path() /
                    ("store-rounds-" + std::to_string(::getpid()) + ".db");
  double total_us = 0;
  {
    SqliteJobStore store({path, false});
    store.set_limits({1000, 200, 0});
    int next = 0;
    auto round_of = [&](int n) {
      JobStore::Round r;
      r.worker_id = "bench";
      r.lease_ttl = std::chrono::seconds(60);
      r.claim_runnable = false;  // submits only: every job waits
      for (int i = 0; i < n; ++i, ++next) {
        r.submits.push_back(
            NewJob{{"tenant", "u" + std::to_string(next % o.users), "r" + std::to_string(next)},
                   "delay",
                   R"({"duration_ms":0})",
                   "trace",
                   3});
      }
      return r;
    };
    auto submit = [&](int n) {
      int created = 0;
      for (const auto& s : store.commit_round(round_of(n)).submitted) created += s.created;
      if (created != n) {
        std::fprintf(stderr, "a round created %d of %d jobs\n", created, n);
        std::exit(1);
      }
    };
    submit(o.backlog);
    for (int k = 0; k < o.rounds; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      submit(o.batch);
      total_us +=
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      std::vector<JobStore::FinishItem> done;
      for (const auto& l : store.acquire_batch("bench", std::chrono::seconds(60), o.batch)) {
        done.push_back({l.record.job_id, l.fence, JobStatus::kSucceeded, "{}", ""});
      }
      store.finish_batch(done);
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  std::printf(
      "{\"scenario\":\"store-rounds\",\"label\":\"store:backlog-%d\",\"backlog\":%d,"
      "\"batch\":%d,\"rounds\":%d,\"us_per_round\":%.1f,\"us_per_submit\":%.2f}\n",
      o.backlog, o.backlog, o.batch, o.rounds, total_us / o.rounds, total_us / o.rounds / o.batch);
  return 0;
}
