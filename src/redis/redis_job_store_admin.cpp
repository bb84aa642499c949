// RedisJobStore's admin API: paged listing, queue statistics, recent failures, retry of
// a failed job, a scoped purge and progress history. A read scoped to a tenant runs on
// that tenant's partition and index only (`ti:<tenant>`, `rt:<tenant>`); an unscoped
// (admin) read names every tenant of each partition, read from its tenant index `tn`.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>

#include "redis/admin_scripts.hpp"
#include "redis/redis_job_codec.hpp"
#include "redis/redis_job_store.hpp"

namespace streamer::redis {
namespace {

// Finished jobs recent_failures looks at per partition (newest first).
constexpr int kFailureScan = 5000;

std::string opt(const std::optional<std::string>& v) { return v.value_or(""); }

// One job of a listing, with its position in newest-first order across partitions.
struct Listed {
  long long created_ms = 0;
  int partition = 0;
  long long number = 0;
  JobRecord record;
};

}  // namespace

std::vector<std::pair<int, std::vector<std::string>>> RedisJobStore::tenants_in(
    const JobScope& scope) {
  std::vector<std::pair<int, std::vector<std::string>>> out;
  if (scope.tenant_id) {
    out.push_back({partition_of(*scope.tenant_id), {*scope.tenant_id}});
    return out;
  }
  for (int p = 0; p < options_.partitions; ++p) {
    // The partition's tenant index (`tn`): as many entries as tenants with listed jobs,
    // whatever else the database holds.
    std::vector<std::string> tenants;
    for (const auto& t : client_->command({"SMEMBERS", prefix(p) + "tn"}).elements)
      tenants.push_back(t.as_string());
    std::sort(tenants.begin(), tenants.end());
    tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
    if (!tenants.empty()) out.push_back({p, std::move(tenants)});
  }
  return out;
}

JobPage RedisJobStore::list_jobs(const JobQuery& query) {
  std::string states;
  for (auto s : query.states) states += std::to_string(static_cast<int>(s));
  std::string after_ca, after_p = "0", after_n = "0";
  if (query.after) {
    auto [p, n] = split_job_id(query.after->job_id, options_.partitions);  // invalid_argument
    after_ca = std::to_string(to_ms(query.after->created_at));
    after_p = std::to_string(p);
    after_n = n;
  }
  const std::size_t want = query.limit + 1;
  std::vector<Listed> found;
  for (auto& [p, tenants] : tenants_in(query.scope)) {
    std::vector<std::string> args{
        std::to_string(p),
        opt(query.scope.user_id),
        opt(query.action),
        states,
        query.created_since ? std::to_string(to_ms(*query.created_since)) : "",
        query.created_before ? std::to_string(to_ms(*query.created_before)) : "",
        after_ca,
        after_p,
        after_n,
        std::to_string(want)};
    args.insert(args.end(), tenants.begin(), tenants.end());
    auto r = client_->eval(AdminScripts::list(), {prefix(p)}, args);
    for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      Parsed job = parse_job(r.elements[i + 1], p);
      const long long number = to_ll(split_job_id(job.record.job_id, options_.partitions).second);
      found.push_back({r.elements[i].as_int(), p, number, std::move(job.record)});
    }
  }
  std::sort(found.begin(), found.end(), [](const Listed& a, const Listed& b) {
    return std::tie(a.created_ms, a.partition, a.number) >
           std::tie(b.created_ms, b.partition, b.number);
  });
  JobPage page;
  page.more = found.size() > query.limit;
  if (page.more) found.resize(query.limit);
  for (auto& l : found) page.jobs.push_back(std::move(l.record));
  return page;
}

std::vector<QueueStat> RedisJobStore::queue_stats(const JobScope& scope) {
  std::map<std::string, QueueStat> by_action;
  for (int p = 0; p < options_.partitions; ++p) {
    std::vector<std::string> args{opt(scope.user_id)};
    if (scope.tenant_id) {
      if (partition_of(*scope.tenant_id) != p) continue;
      args.push_back(*scope.tenant_id);
    } else {
      for (const auto& t : client_->command({"SMEMBERS", prefix(p) + "qt"}).elements)
        args.push_back(t.as_string());
      if (args.size() == 1) continue;
    }
    auto r = client_->eval(AdminScripts::queue_stats(), {prefix(p)}, args);
    for (std::size_t i = 0; i + 2 < r.elements.size(); i += 3) {
      const std::string& action = r.elements[i].as_string();
      const auto oldest = from_ms(r.elements[i + 2].as_int());
      auto [it, fresh] = by_action.try_emplace(action, QueueStat{action, 0, oldest});
      it->second.queued += static_cast<std::size_t>(r.elements[i + 1].as_int());
      it->second.oldest_created_at = std::min(it->second.oldest_created_at, oldest);
    }
  }
  std::vector<QueueStat> out;
  for (auto& [action, stat] : by_action) out.push_back(std::move(stat));
  return out;
}

std::vector<JobRecord> RedisJobStore::recent_failures(const JobScope& scope, std::size_t limit) {
  std::vector<std::pair<long long, JobRecord>> found;
  for (int p = 0; p < options_.partitions; ++p) {
    if (scope.tenant_id && partition_of(*scope.tenant_id) != p) continue;
    auto r = client_->eval(AdminScripts::failures(), {prefix(p)},
                           {opt(scope.tenant_id), opt(scope.user_id), std::to_string(limit),
                            std::to_string(kFailureScan)});
    for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      found.emplace_back(to_ll(r.elements[i].as_string()), parse_job(r.elements[i + 1], p).record);
    }
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<JobRecord> out;
  for (auto& [at, rec] : found) {
    if (out.size() >= limit) break;
    out.push_back(std::move(rec));
  }
  return out;
}

RequeueResult RedisJobStore::requeue_failed(const JobKey& key, int extra_attempts,
                                            std::string_view note) {
  const int p = partition_of(key.tenant_id);
  auto r = client_->eval(AdminScripts::requeue(), {prefix(p)},
                         {job_key_string(key), std::to_string(extra_attempts), std::string(note)});
  const auto code = r.elements.at(0).as_int();
  if (code == 0) return {};
  RequeueResult out{code == 1 ? RequeueOutcome::kRequeued : RequeueOutcome::kNotFailed,
                    parse_job(r.elements.at(1), p).record};
  if (code == 1) await_replicas();
  return out;
}

std::size_t RedisJobStore::purge_finished(const JobScope& scope, SystemTime cutoff) {
  std::size_t total = 0;
  for (int p = 0; p < options_.partitions; ++p) {
    if (scope.tenant_id && partition_of(*scope.tenant_id) != p) continue;
    // Bounded per call (1000 index entries per script run), so no script blocks the server
    // for long; entries of other scopes stay in the index and are stepped over.
    long long offset = 0;
    for (;;) {
      auto r = client_->eval(AdminScripts::purge_scope(), {prefix(p)},
                             {std::to_string(to_ms(cutoff)), opt(scope.tenant_id),
                              opt(scope.user_id), std::to_string(offset)});
      total += static_cast<std::size_t>(r.elements.at(0).as_int());
      offset += r.elements.at(1).as_int();
      if (r.elements.at(2).as_int() == 0) break;
    }
  }
  return total;
}

std::vector<ProgressStep> RedisJobStore::progress_history(const JobKey& key) {
  const int p = partition_of(key.tenant_id);
  auto r = client_->eval(AdminScripts::history(), {prefix(p)}, {job_key_string(key)});
  std::vector<ProgressStep> out;
  for (const auto& e : r.elements) {
    const std::string& step = e.as_string();  // "<attempt>:<ms>:<progress>"
    const auto a = step.find(':');
    const auto b = a == std::string::npos ? a : step.find(':', a + 1);
    if (b == std::string::npos) continue;
    out.push_back({static_cast<int>(to_ll(step.substr(0, a))),
                   from_ms(to_ll(step.substr(a + 1, b - a - 1))), step.substr(b + 1)});
  }
  return out;
}

}  // namespace streamer::redis
