#include "redis/redis_job_codec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <unordered_map>

namespace streamer::redis {

SystemTime from_ms(long long ms) { return SystemTime(std::chrono::milliseconds(ms)); }
long long to_ms(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string job_key_string(const JobKey& k) {
  return fmt::format("{}:{}{}:{}{}", k.tenant_id.size(), k.tenant_id, k.user_id.size(), k.user_id,
                     k.request_id);
}

long long to_ll(const std::string& s) {
  long long v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Parsed parse_job(const Reply& flat, int partition) {
  std::unordered_map<std::string, const std::string*> f;
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    f[flat.elements[i].as_string()] = &flat.elements[i + 1].as_string();
  }
  auto get = [&](const char* name) -> const std::string& {
    static const std::string kEmpty;
    auto it = f.find(name);
    return it == f.end() ? kEmpty : *it->second;
  };
  Parsed p;
  JobRecord& r = p.record;
  r.job_id = fmt::format("{}-{}", partition, get("n"));
  r.key = {get("t"), get("u"), get("r")};
  r.action = get("a");
  r.payload_json = get("pl");
  r.trace_id = get("tr");
  r.status = static_cast<JobStatus>(to_ll(get("st")));
  r.attempts = static_cast<int>(to_ll(get("att")));
  r.max_attempts = static_cast<int>(to_ll(get("max")));
  r.cancel_requested = get("cx") == "1";
  r.progress_json = get("prog");
  r.outcome_json = get("out");
  r.last_error = get("le");
  r.lane = get("lane");
  r.created_at = from_ms(to_ll(get("ca")));
  r.updated_at = from_ms(to_ll(get("ua")));
  if (!get("fa").empty()) r.finished_at = from_ms(to_ll(get("fa")));
  p.owner = get("own");
  p.lease_until = from_ms(to_ll(get("lu")));
  p.fence = to_ll(get("fence"));
  return p;
}

Lease to_lease(Parsed p) {
  return Lease{std::move(p.record), std::move(p.owner), p.lease_until, p.fence};
}

std::pair<int, std::string> split_job_id(std::string_view job_id, int partitions) {
  auto dash = job_id.find('-');
  int partition = -1;
  if (dash != std::string_view::npos) {
    auto [end, ec] = std::from_chars(job_id.data(), job_id.data() + dash, partition);
    if (ec != std::errc() || end != job_id.data() + dash) partition = -1;
  }
  std::string_view n =
      dash == std::string_view::npos ? std::string_view{} : job_id.substr(dash + 1);
  if (partition < 0 || partition >= partitions || n.empty() ||
      !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw std::invalid_argument("not a job id of this Redis store: " + std::string(job_id));
  }
  return {partition, std::string(n)};
}

}  // namespace streamer::redis
