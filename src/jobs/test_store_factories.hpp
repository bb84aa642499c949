// Job store factories for typed tests (TYPED_TEST_SUITE over the backends): each
// make() returns a new, empty store.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "jobs/memory_job_store.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "redis/redis_job_store.hpp"
#include "redis/test_redis_server.hpp"

namespace streamer::testing_stores {

// A fresh SQLite file in the temporary directory per store.
struct SqliteFactory {
  // Inserts a round's new waiting-lane jobs leased (JobStore::Round::max_waiting_claims).
  static constexpr bool kLeasesWaitingInRounds = true;
  // claim_lane() tells whether it left a job for its tenant's bound.
  static constexpr bool kReportsLaneCapped = true;
  static std::unique_ptr<JobStore> make() {
    static int n = 0;
    auto path =
        std::filesystem::temp_directory_path() /
        ("streamer-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".db");
    std::filesystem::remove(path);
    return std::make_unique<SqliteJobStore>(SqliteJobStoreOptions{path});
  }
};

struct MemoryFactory {
  static constexpr bool kLeasesWaitingInRounds = true;
  static constexpr bool kReportsLaneCapped = true;
  static std::unique_ptr<JobStore> make() { return std::make_unique<MemoryJobStore>(); }
};

// One redis-server for the whole test binary, emptied for each store.
struct RedisFactory {
  // Its rounds leave waiting-lane jobs to acquire_lane (as the interface allows).
  static constexpr bool kLeasesWaitingInRounds = false;
  // Its claim_lane() always says a job may have been left for a bound (the default).
  static constexpr bool kReportsLaneCapped = false;
  static std::unique_ptr<JobStore> make() {
    static redis::TestRedisServer server({"--maxmemory-policy", "noeviction"});
    redis::RedisJobStoreOptions options;
    options.url = server.url();
    auto store = std::make_unique<redis::RedisJobStore>(options);
    store->client().command({"FLUSHALL"});
    return store;
  }
};

}  // namespace streamer::testing_stores
