// How the Redis JobStore's values read and write: job hashes (HGETALL replies) to
// records, job ids "<partition>-<job number>", the (tenant, user, request id) key
// string and millisecond times. Shared by the store's job calls and its admin reads.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "jobs/job_store.hpp"
#include "redis/redis_client.hpp"

namespace streamer::redis {

SystemTime from_ms(long long ms);
long long to_ms(SystemTime t);
// A decimal integer; 0 when the text is not one.
long long to_ll(const std::string& s);

// The (tenant, user, request id) key as one string no two keys share: lengths first.
std::string job_key_string(const JobKey& k);

// A job hash as HGETALL returns it, and what a lease needs besides the record.
struct Parsed {
  JobRecord record;
  std::string owner;
  SystemTime lease_until{};
  std::int64_t fence = 0;
};
Parsed parse_job(const Reply& flat, int partition);
Lease to_lease(Parsed p);

// A job id is "<partition>-<job number>": its partition (below `partitions`) and number.
// Throws std::invalid_argument for anything else.
std::pair<int, std::string> split_job_id(std::string_view job_id, int partitions);

}  // namespace streamer::redis
