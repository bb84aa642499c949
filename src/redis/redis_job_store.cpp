#include "redis/redis_job_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <unordered_map>

#include "core/log_event.hpp"
#include "redis/job_scripts.hpp"
#include "redis/redis_job_codec.hpp"

namespace streamer::redis {
namespace {

std::string status_arg(JobStatus s) { return std::to_string(static_cast<int>(s)); }

// The record the submit script stored for `job` as number n of partition p at created_ms
// (leased: as its first claim leaves it), without reading it back.
JobRecord created_record(const NewJob& job, int p, const std::string& n, long long created_ms,
                         bool leased) {
  JobRecord r;
  r.job_id = fmt::format("{}-{}", p, n);
  r.key = job.key;
  r.action = job.action;
  r.payload_json = job.payload_json;
  r.trace_id = job.trace_id;
  r.status = leased ? JobStatus::kRunning : JobStatus::kQueued;
  r.attempts = leased ? 1 : 0;
  r.max_attempts = job.max_attempts;
  r.lane = job.lane;
  r.created_at = r.updated_at = from_ms(created_ms);
  return r;
}

}  // namespace

RedisJobStore::RedisJobStore(RedisJobStoreOptions options) : options_(std::move(options)) {
  if (options_.partitions < 1 || options_.partitions > 1024) {
    throw std::invalid_argument("redis store: partitions must be between 1 and 1024");
  }
  auto url = parse_redis_url(options_.url);
  client_ = std::make_unique<RedisClient>(url, options_.client);
  waiter_ = std::make_unique<RedisClient>(url, options_.client);
  lane_waiter_ = std::make_unique<RedisClient>(url, options_.client);
  lane_client_ = std::make_unique<RedisClient>(url, options_.client);
  Reply info;
  try {
    info = client_->command({"INFO", "memory"});
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot use the Redis store at " + url.describe() + ": " + e.what());
  }
  const std::string& text = info.as_string();
  auto at = text.find("maxmemory_policy:");
  std::string policy;
  if (at != std::string::npos) {
    auto from = at + std::string_view("maxmemory_policy:").size();
    policy = text.substr(from, text.find_first_of("\r\n", from) - from);
  }
  if (policy != "noeviction") {
    throw std::runtime_error(
        fmt::format("the Redis store at {} has maxmemory-policy '{}': it may evict jobs. Set "
                    "`maxmemory-policy noeviction` (redis.conf or CONFIG SET) and restart",
                    url.describe(), policy.empty() ? "unknown" : policy));
  }
}

RedisJobStore::~RedisJobStore() = default;

int RedisJobStore::partition_of(std::string_view tenant) const {
  std::uint32_t h = 2166136261u;  // FNV-1a: stable across processes and builds
  for (unsigned char c : tenant) h = (h ^ c) * 16777619u;
  return static_cast<int>(h % static_cast<std::uint32_t>(options_.partitions));
}

std::string RedisJobStore::job_hash_key(std::string_view job_id) const {
  auto [p, n] = split_job_id(job_id, options_.partitions);
  return prefix(p) + "j:" + n;
}

void RedisJobStore::refused_stale_write(std::string_view op, std::string_view job_id,
                                        std::int64_t fence) {
  ++stale_writes_refused_;
  log_event(spdlog::level::info, "stale_write_refused",
            {{"op", op}, {"job", job_id}, {"fence", fence}});
}

std::string RedisJobStore::prefix(int partition) { return fmt::format("s:{{{}}}:", partition); }

void RedisJobStore::await_replicas() {
  if (options_.wait_replicas <= 0) return;
  auto acked = client_
                   ->blocking_command({"WAIT", std::to_string(options_.wait_replicas),
                                       std::to_string(options_.wait_timeout.count())},
                                      options_.wait_timeout)
                   .as_int();
  if (acked < options_.wait_replicas) {
    throw RedisConnectionError(
        fmt::format("redis: only {} of {} replicas confirmed the write within {} ms", acked,
                    options_.wait_replicas, options_.wait_timeout.count()));
  }
}

ScriptCall RedisJobStore::submit_call(const NewJob& job, std::string_view lease_worker,
                                      std::chrono::milliseconds ttl) const {
  const int p = partition_of(job.key.tenant_id);
  return {
      &JobScripts::submit(),
      {prefix(p)},
      {job_key_string(job.key), job.key.tenant_id, job.key.user_id, job.key.request_id, job.action,
       job.payload_json, job.trace_id, std::to_string(job.max_attempts),
       std::to_string(limits_.max_queued_per_tenant), std::to_string(limits_.max_queued_per_user),
       std::string(lease_worker), std::to_string(ttl.count()),
       std::to_string(limits_.max_running_per_tenant), job.lane, submitter_, submitter_ttl_ms_}};
}

SubmitResult RedisJobStore::submit_result(const NewJob& job, const Reply& r, bool* leased) const {
  const int p = partition_of(job.key.tenant_id);
  const auto code = r.elements.at(0).as_int();
  if (code == 3 || code == 4) {
    return {{},
            false,
            code == 3 ? QueueLimit::kQueuedPerTenant : QueueLimit::kQueuedPerUser,
            static_cast<std::size_t>(r.elements.at(1).as_int())};
  }
  if (leased) *leased = code == 2;
  return {code == 0 ? parse_job(r.elements.at(1), p).record
                    : created_record(job, p, r.elements.at(1).as_string(),
                                     r.elements.at(2).as_int(), code == 2),
          code != 0};
}

void RedisJobStore::register_submitter(std::string gateway, std::chrono::milliseconds ttl) {
  submitter_ = std::move(gateway);
  submitter_ttl_ms_ = std::to_string(ttl.count());
}

std::vector<ScriptCall> RedisJobStore::progress_event_calls(
    const std::vector<ProgressEvent>& events) const {
  // One script per partition for all its events, in their order.
  std::vector<ScriptCall> calls;
  std::unordered_map<int, std::size_t> call_of;
  for (const auto& e : events) {
    auto [p, n] = split_job_id(e.job_id, options_.partitions);
    auto [at, fresh] = call_of.try_emplace(p, calls.size());
    if (fresh)
      calls.push_back({&JobScripts::progress_events(), {prefix(p)}, {outcome_event_ttl_ms_}});
    auto& args = calls[at->second].args;
    args.push_back(std::move(n));
    args.push_back(std::to_string(e.fence));
    args.push_back(e.message);
  }
  return calls;
}

bool RedisJobStore::publish_outcomes(std::chrono::milliseconds ttl) {
  if (options_.wait_replicas > 0 || ttl.count() <= 0) return false;
  outcome_event_ttl_ms_ = std::to_string(ttl.count());
  return true;
}

SubmitResult RedisJobStore::submit(const NewJob& job) {
  auto call = submit_call(job, "", std::chrono::milliseconds(0));
  SubmitResult out = submit_result(job, client_->eval(*call.script, call.keys, call.args), nullptr);
  if (out.created) await_replicas();
  return out;
}

std::optional<JobRecord> RedisJobStore::find(const JobKey& key) {
  const int p = partition_of(key.tenant_id);
  auto r = client_->eval(JobScripts::find(), {prefix(p)}, {job_key_string(key)});
  if (r.is_nil() || r.elements.empty()) return std::nullopt;
  return parse_job(r, p).record;
}

ScriptCall RedisJobStore::claim_call(int p, std::string_view worker_id,
                                     std::chrono::milliseconds ttl, std::size_t max,
                                     std::string_view lane, std::string_view tenant) const {
  return {&JobScripts::claim(),
          {prefix(p)},
          {std::string(worker_id), std::to_string(ttl.count()), std::to_string(max),
           // the lane's per-tenant bound (none for a remote action's lane)
           std::to_string(lane_cap(lane)), std::string(lane), std::string(tenant)}};
}

void RedisJobStore::take_claimed(const Reply& r, int p, Claimed& out) {
  out.capped = out.capped || r.elements.at(0).as_int() == 1;
  if (const auto wake = r.elements.at(1).as_int(); wake >= 0) {
    const auto t = from_ms(wake);
    if (!out.next_wakeup || t < *out.next_wakeup) out.next_wakeup = t;
  }
  for (std::size_t j = 2; j < r.elements.size(); ++j) {
    out.leases.push_back(to_lease(parse_job(r.elements[j], p)));
  }
}

RedisJobStore::Claimed RedisJobStore::claim(std::string_view worker_id,
                                            std::chrono::milliseconds ttl, std::size_t max,
                                            std::string_view lane, std::string_view tenant,
                                            const Reply* first) {
  Claimed out;
  if (max == 0) return out;
  const std::size_t parts = static_cast<std::size_t>(options_.partitions);
  const std::size_t start = next_partition_.fetch_add(1) % parts;
  for (std::size_t i = 0; i < parts && out.leases.size() < max; ++i) {
    const int p = static_cast<int>((start + i) % parts);
    if (!tenant.empty() && p != partition_of(tenant)) continue;  // its jobs are all in one
    if (first && p == 0) {  // already claimed, in the caller's pipeline
      take_claimed(*first, p, out);
      continue;
    }
    // a lane's claims (a remote dispatcher's) do not queue behind the pools' scripts
    auto call = claim_call(p, worker_id, ttl, max - out.leases.size(), lane, tenant);
    take_claimed((lane.empty() ? client_ : lane_client_)->eval(*call.script, call.keys, call.args),
                 p, out);
  }
  if (out.leases.size() >= max) out.next_wakeup.reset();
  return out;
}

std::vector<Lease> RedisJobStore::acquire_lane(std::string_view lane, std::string_view tenant,
                                               std::string_view worker_id,
                                               std::chrono::milliseconds ttl, std::size_t max) {
  return claim(worker_id, ttl, max, lane, tenant).leases;
}

std::vector<Lease> RedisJobStore::acquire_batch(std::string_view worker_id,
                                                std::chrono::milliseconds ttl, std::size_t max) {
  return claim(worker_id, ttl, max).leases;
}

JobStore::RoundResult RedisJobStore::commit_round(const Round& round) {
  // Not one transaction as in SQLite: each script is atomic, and a failure fails the
  // round (what ran is stored; a submit retried is idempotent, an unreported finish
  // leaves the job ended and readable by subscribe). The round's submits go out as one
  // pipeline, and one WAIT after its last write covers its finishes and submits: nothing
  // is answered before every write of the round is on the primary (and replicas).
  RoundResult out;
  bool wrote = false;
  // The round's progress events, its finishes and (with one partition) its claim go out
  // as one pipeline, in that order: each event before its job's outcome, and the claim
  // after the finishes, so it sees the slots they free. One write and one read each way.
  PipelineExtras extras;
  extras.before = progress_event_calls(round.progress_events);
  if (round.claim_runnable && round.max_claims > 0 && options_.partitions == 1 &&
      (!round.finishes.empty() || !extras.before.empty())) {
    extras.after = claim_call(0, round.worker_id, round.lease_ttl, round.max_claims, {}, {});
  }
  if (!round.finishes.empty() || !extras.before.empty()) {
    out.finished = finish_unawaited(round.finishes, &wrote, &extras);
    for (const auto& r : extras.before_replies) {
      for (long long i = 0; i < r.as_int(); ++i) refused_stale_write("publish_progress", "", 0);
    }
  }
  std::optional<SystemTime> wake;
  if (round.claim_runnable) {
    auto c = claim(round.worker_id, round.lease_ttl, round.max_claims, {}, {},
                   extras.after_reply ? &*extras.after_reply : nullptr);
    out.claimed = std::move(c.leases);
    out.capped = c.capped;
    wake = c.next_wakeup;
  }
  // Decided before sending: the first `claims_left` submits of the built-in lane may be
  // leased at submit (a job of another lane never is, nor does it count as held back).
  std::size_t claims_left =
      round.max_claims > out.claimed.size() ? round.max_claims - out.claimed.size() : 0;
  std::vector<bool> may_lease(round.submits.size(), false);
  std::vector<ScriptCall> calls;
  calls.reserve(round.submits.size());
  for (std::size_t i = 0; i < round.submits.size(); ++i) {
    const auto& job = round.submits[i];
    if (claims_left > 0 && job.lane.empty()) {
      may_lease[i] = true;
      --claims_left;
    }
    calls.push_back(
        submit_call(job, may_lease[i] ? std::string_view(round.worker_id) : std::string_view{},
                    round.lease_ttl));
  }
  const auto replies = client_->eval_pipeline(calls);
  out.submitted.reserve(round.submits.size());
  for (std::size_t i = 0; i < round.submits.size(); ++i) {
    bool leased = false;
    out.submitted.push_back(submit_result(round.submits[i], replies.at(i), &leased));
    wrote = wrote || out.submitted.back().created;
    if (leased) {
      const auto& rec = out.submitted.back().record;
      Lease lease{rec, round.worker_id, rec.updated_at + round.lease_ttl, 1};
      if (!wake || lease.lease_until < *wake) wake = lease.lease_until;
      out.claimed.push_back(std::move(lease));
    } else if (may_lease[i] && out.submitted.back().created) {
      out.capped = true;  // queued only because its tenant is at its running bound
    }
  }
  if (wrote) await_replicas();
  if (round.claim_runnable && round.max_claims > 0 && out.claimed.size() < round.max_claims) {
    out.next_wakeup = wake;
  }
  return out;
}

LeaseState RedisJobStore::renew(std::string_view job_id, std::int64_t fence,
                                std::chrono::milliseconds ttl) {
  auto [p, n] = split_job_id(job_id, options_.partitions);
  auto r = client_->eval(JobScripts::renew(), {prefix(p)},
                         {std::to_string(ttl.count()), n, std::to_string(fence)});
  const auto state = r.elements.at(0).as_int();
  if (state < 0) refused_stale_write("renew", job_id, fence);
  return {state >= 0, state == 1};
}

void RedisJobStore::save_progress_batch(const std::vector<ProgressItem>& items) {
  std::unordered_map<int, std::vector<std::string>> by_partition;
  for (const auto& i : items) {
    auto [p, n] = split_job_id(i.job_id, options_.partitions);
    auto& args = by_partition[p];
    if (args.empty()) args.push_back(std::to_string(limits_.progress_history_steps));
    args.push_back(std::move(n));
    args.push_back(std::to_string(i.fence));
    args.push_back(i.progress_json);
  }
  for (auto& [p, args] : by_partition) {
    const auto refused = client_->eval(JobScripts::progress(), {prefix(p)}, args).as_int();
    for (long long i = 0; i < refused; ++i) refused_stale_write("progress", "", 0);
  }
}

std::vector<FinishResult> RedisJobStore::finish_batch(const std::vector<FinishItem>& items) {
  bool wrote = false;
  auto out = finish_unawaited(items, &wrote);
  if (wrote) await_replicas();
  return out;
}

std::vector<FinishResult> RedisJobStore::finish_unawaited(const std::vector<FinishItem>& items,
                                                          bool* wrote, PipelineExtras* extras) {
  std::vector<FinishResult> out(items.size());
  // One script per partition, all in one pipeline; results go back to the items' positions.
  std::unordered_map<int, std::pair<std::vector<std::string>, std::vector<std::size_t>>>
      by_partition;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto [p, n] = split_job_id(items[i].job_id, options_.partitions);
    auto& [args, positions] = by_partition[p];
    if (args.empty()) {
      args.push_back(std::to_string(options_.result_ttl.count()));
      args.push_back(std::to_string(limits_.progress_history_steps));
      args.push_back(outcome_event_ttl_ms_);
    }
    args.push_back(std::move(n));
    args.push_back(std::to_string(items[i].fence));
    args.push_back(status_arg(items[i].terminal));
    args.push_back(items[i].outcome_json);
    args.push_back(items[i].final_progress_json);
    positions.push_back(i);
  }
  bool lanes_only = !items.empty();  // a remote dispatcher's batch: on the lanes' connection
  for (const auto& i : items) lanes_only = lanes_only && !i.lane.empty();
  std::vector<ScriptCall> calls;
  if (extras) calls = extras->before;
  std::vector<const std::vector<std::size_t>*> positions_of;
  for (auto& [p, work] : by_partition) {
    calls.push_back({&JobScripts::finish(), {prefix(p)}, std::move(work.first)});
    positions_of.push_back(&work.second);
  }
  if (extras && extras->after) calls.push_back(*extras->after);
  auto replies = (lanes_only ? lane_client_ : client_)->eval_pipeline(calls);
  if (extras) {
    if (extras->after) {
      extras->after_reply = std::move(replies.back());
      replies.pop_back();
    }
    const auto before = static_cast<std::ptrdiff_t>(extras->before.size());
    extras->before_replies.assign(std::make_move_iterator(replies.begin()),
                                  std::make_move_iterator(replies.begin() + before));
    replies.erase(replies.begin(), replies.begin() + before);
  }
  for (std::size_t c = 0; c < replies.size(); ++c) {
    const auto& positions = *positions_of[c];
    for (std::size_t j = 0; j < positions.size(); ++j) {
      const auto& e = replies[c].elements.at(j);
      FinishResult& f = out[positions[j]];
      f.ended = e.elements.at(0).as_int() == 1;
      f.cancelled_instead = e.elements.at(1).as_int() == 1;
      f.outcome_json = e.elements.at(2).as_string();
      f.published = e.elements.at(3).as_int() == 1;
      if (!f.ended)
        refused_stale_write("finish", items[positions[j]].job_id, items[positions[j]].fence);
      *wrote = *wrote || f.ended;
    }
  }
  return out;
}

bool RedisJobStore::release(std::string_view job_id, std::int64_t fence, SystemTime available_at,
                            std::string_view last_error, bool refund_attempt) {
  auto [p, n] = split_job_id(job_id, options_.partitions);
  auto r = client_->eval(JobScripts::release(), {prefix(p)},
                         {n, std::to_string(fence), std::to_string(to_ms(available_at)),
                          std::string(last_error), refund_attempt ? "1" : "0"});
  if (r.as_int() != 1) refused_stale_write("release", job_id, fence);
  return r.as_int() == 1;
}

RedisCancelResult RedisJobStore::cancel(const JobKey& key,
                                        std::string_view cancelled_outcome_json) {
  const int p = partition_of(key.tenant_id);
  auto r = client_->eval(JobScripts::cancel(), {prefix(p)},
                         {job_key_string(key), std::string(cancelled_outcome_json),
                          std::to_string(options_.result_ttl.count())});
  RedisCancelResult out;
  switch (r.elements.at(0).as_int()) {
    case 1:
      out.outcome = CancelOutcome::kCancelledNow;
      await_replicas();
      break;
    case 2:
      out.outcome = CancelOutcome::kCancelRequested;
      out.owner = r.elements.at(1).as_string();
      break;
    case 3:
      out.outcome = CancelOutcome::kAlreadyFinished;
      break;
    default:
      out.outcome = CancelOutcome::kNotFound;
  }
  return out;
}

CancelOutcome RedisJobStore::request_cancel(const JobKey& key,
                                            std::string_view cancelled_outcome_json) {
  return cancel(key, cancelled_outcome_json).outcome;
}

std::size_t RedisJobStore::purge_finished_before(SystemTime cutoff) {
  std::size_t total = 0;
  for (int p = 0; p < options_.partitions; ++p) {
    // Bounded per call (1000 per script run) so no script blocks the server for long.
    for (;;) {
      auto n =
          client_->eval(JobScripts::purge(), {prefix(p)}, {std::to_string(to_ms(cutoff))}).as_int();
      total += static_cast<std::size_t>(n);
      auto left = client_->command(
          {"ZCOUNT", prefix(p) + "fin", "-inf", "(" + std::to_string(to_ms(cutoff))});
      if (left.as_int() == 0) break;
    }
  }
  return total;
}

std::optional<SystemTime> RedisJobStore::next_wakeup() {
  std::optional<SystemTime> best;
  for (int p = 0; p < options_.partitions; ++p) {
    auto t = client_->eval(JobScripts::wakeup(), {prefix(p)}, {"-inf"}).as_int();
    if (t >= 0 && (!best || from_ms(t) < *best)) best = from_ms(t);
  }
  return best;
}

std::string RedisJobStore::lane_wake_key(int partition, std::string_view lane) {
  // The scripts' lane prefix (lanep): `s:{N}:L<length>:<lane>:`.
  return fmt::format("{}L{}:{}:wake", prefix(partition), lane.size(), lane);
}

bool RedisJobStore::wait_for_work(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left < std::chrono::milliseconds(1)) return false;
  std::vector<std::string> argv{"BZPOPMIN"};
  for (int p = 0; p < options_.partitions; ++p) {
    argv.push_back(prefix(p) + "wake");
    // The pools' waiting lane too: a waiting job stored by another process wakes them.
    argv.push_back(lane_wake_key(p, kWaitingLane));
  }
  argv.push_back(fmt::format("{:.3f}", static_cast<double>(left.count()) / 1000.0));
  return !waiter_->blocking_command(argv, left).is_nil();
}

// ------------------------------------------------------------------- remote actions

namespace {

// KEYS[1]: the registry hash. ARGV: name, spec, tenant scope, expires (ms), now (ms).
// An entry is JSON {s: spec, t: tenant scope, e: expiry in ms as text}.
const LuaScript& put_remote_action_script() {
  static const LuaScript script(R"lua(
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local expires = ARGV[4]
if cur then
  local e = cjson.decode(cur)
  if tonumber(e.e) > tonumber(ARGV[5]) then
    if e.s ~= ARGV[2] then return cur end
    if tonumber(e.e) > tonumber(expires) then expires = e.e end
  end
end
local v = cjson.encode({s = ARGV[2], t = ARGV[3], e = expires})
redis.call('HSET', KEYS[1], ARGV[1], v)
return v
)lua");
  return script;
}

std::optional<JobStore::RemoteActionEntry> decode_remote_action(const std::string& name,
                                                                const std::string& text) {
  std::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  const auto* o = v.if_object();
  if (ec || !o) return std::nullopt;
  const auto* spec = o->if_contains("s");
  const auto* tenant = o->if_contains("t");
  const auto* expires = o->if_contains("e");
  if (!spec || !spec->is_string() || !tenant || !tenant->is_string() || !expires ||
      !expires->is_string())
    return std::nullopt;
  std::int64_t ms = 0;
  const std::string_view e = expires->get_string();
  if (std::from_chars(e.data(), e.data() + e.size(), ms).ec != std::errc()) return std::nullopt;
  return JobStore::RemoteActionEntry{name, std::string(spec->get_string()),
                                     std::string(tenant->get_string()), from_ms(ms)};
}

}  // namespace

JobStore::RemoteActionEntry RedisJobStore::put_remote_action(const RemoteActionEntry& entry,
                                                             SystemTime now) {
  auto r = client_->eval(put_remote_action_script(), {prefix(0) + "remote_actions"},
                         {entry.name, entry.spec_json, entry.tenant_scope,
                          std::to_string(to_ms(entry.expires_at)), std::to_string(to_ms(now))});
  auto decoded = decode_remote_action(entry.name, r.as_string());
  if (!decoded) throw std::runtime_error("malformed remote action entry " + entry.name);
  return *decoded;
}

std::vector<JobStore::RemoteActionEntry> RedisJobStore::live_remote_actions(SystemTime now) {
  auto r = client_->command({"HGETALL", prefix(0) + "remote_actions"});
  std::vector<RemoteActionEntry> out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    auto e = decode_remote_action(r.elements[i].as_string(), r.elements[i + 1].as_string());
    if (e && e->expires_at > now) out.push_back(std::move(*e));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

bool RedisJobStore::wait_for_lane_work(const std::vector<std::string>& lanes,
                                       std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (lanes.empty() || left < std::chrono::milliseconds(1)) return false;
  std::vector<std::string> argv{"BZPOPMIN"};
  for (int p = 0; p < options_.partitions; ++p) {
    for (const auto& lane : lanes) argv.push_back(lane_wake_key(p, lane));
  }
  argv.push_back(fmt::format("{:.3f}", static_cast<double>(left.count()) / 1000.0));
  return !lane_waiter_->blocking_command(argv, left).is_nil();
}

std::vector<LeaseState> RedisJobStore::renew_batch(const std::vector<RenewItem>& items,
                                                   std::chrono::milliseconds ttl) {
  std::vector<LeaseState> out(items.size());
  // One renew script per partition (it takes any number of jobs); answers go back to
  // the items' positions.
  std::unordered_map<int, std::pair<std::vector<std::string>, std::vector<std::size_t>>>
      by_partition;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto [p, n] = split_job_id(items[i].job_id, options_.partitions);
    auto& [args, positions] = by_partition[p];
    if (args.empty()) args.push_back(std::to_string(ttl.count()));
    args.push_back(std::move(n));
    args.push_back(std::to_string(items[i].fence));
    positions.push_back(i);
  }
  for (auto& [p, batch] : by_partition) {
    auto& [args, positions] = batch;
    const auto r = client_->eval(JobScripts::renew(), {prefix(p)}, args);
    for (std::size_t k = 0; k < positions.size(); ++k) {
      const auto state = r.elements.at(k).as_int();
      const auto& item = items[positions[k]];
      if (state < 0) refused_stale_write("renew", item.job_id, item.fence);
      out[positions[k]] = {state >= 0, state == 1};
    }
  }
  return out;
}

}  // namespace streamer::redis
