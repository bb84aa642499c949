// The Lua scripts of the Redis JobStore. Every script gets one partition's key prefix
// `s:{N}:` as KEYS[1] and touches only keys under that prefix, so all of them hash to one
// slot (Redis Cluster compatible). Time comes from the server (TIME), so the clocks of the
// processes sharing the store do not matter for leases.
//
// Keys of a partition (P = the prefix):
// clang-format off
//   P j:<n>        HASH   one job: t u r jk a pl tr st att max cx prog out le ca ua fa av own lu fence lane
//   P k:<jk>       STRING the job number of a (tenant, user, request id) key: idempotency
//   P seq          STRING job number counter
//   P rt:<tenant>  ZSET   the tenant's queued jobs by available-at (claim order)
//   P qt           SET    tenants with queued jobs
//   P qu           HASH   queued jobs per (tenant, user)
//   P ln           HASH   leased (running) jobs per tenant
//   P av           ZSET   all queued jobs by available-at
//   P lease        ZSET   running jobs by lease deadline
//   P fin          ZSET   "<n>:<tenant>" of finished jobs by finish time
//   P ti:<tenant>  ZSET   the tenant's jobs by creation time (listing)
//   P tn           SET    tenants with a ti: index (an admin listing's tenants): submit adds,
//                         purges drop a tenant whose index empties
//   P wake         ZSET   the marker claimers block on (BZPOPMIN)
//   P ph:<n>       LIST   job n's progress history, oldest first: "<attempt>:<ms>:<progress>"
//                         (its latest progress_history_steps; expires and is deleted with the job)
//   P g:<jk>       SET    when the event bus shares this Redis (RedisEventBusOptions::key_prefix):
//   P n:<jk>       STRING the gateways registered for a request's events, and its event counter
// clang-format on
// Job numbers are zero-padded to 12 digits so that equal scores sort by age.
#pragma once

#include "redis/redis_client.hpp"

namespace streamer::redis {

struct JobScripts {
  // ARGV: jk tenant user request action payload trace max_attempts max_queued_tenant
  //       max_queued_user lease_worker ttl_ms max_running_tenant lane gateway gateway_ttl_ms
  //   (gateway: registered in the event bus' set `g:<jk>` of a created job; '' none)
  // -> {0, record} existed | {code, n, created_ms} created: code 1 queued, 2 leased
  //    (attempt 1, fence 1), 5 queued because the tenant is at max_running_tenant though
  //    lease_worker was given (the caller knows the rest of a created job's record) |
  //    {3, limit} refused (tenant bound) | {4, limit} refused (user bound)
  static const LuaScript& submit();
  // ARGV: worker ttl_ms max max_running_tenant
  // -> {capped, next_wakeup_ms (-1: none), record...}
  static const LuaScript& claim();
  // ARGV: ttl_ms, then (n, fence) pairs -> per pair -1 not held, 0 held, 1 held and cancel asked
  static const LuaScript& renew();
  // ARGV: history_steps, then (n, fence, progress) triples; writes (and adds a history
  // step) only where the fence is current.
  // -> how many were refused (stale fence, or the job no longer running)
  static const LuaScript& progress();
  // ARGV: result_ttl_ms history_steps event_ttl_ms, then (n, fence, terminal, outcome,
  // final_progress) quintuples. event_ttl_ms > 0: each recorded outcome is also published
  // to the request's gateways (`g:<jk>`, numbered by `n:<jk>`, kept event_ttl_ms), as the
  // event bus' publish of a terminal event would.
  // -> per item {ended, cancelled_instead, outcome_if_cancelled_instead, published}
  static const LuaScript& finish();
  // ARGV: event_ttl_ms, then (n, fence, message) triples: each a progress event of job n,
  // published as finish() publishes an outcome, only where the fence is current.
  // -> how many were refused
  static const LuaScript& progress_events();
  // ARGV: n fence available_at_ms last_error refund(0|1) -> 1 released, 0 not held
  static const LuaScript& release();
  // ARGV: jk outcome result_ttl_ms -> {code, owner}: 0 not found, 1 cancelled now,
  //   2 cancel requested (owner: the lease holder), 3 already finished
  static const LuaScript& cancel();
  // ARGV: jk -> record or nil
  static const LuaScript& find();
  // ARGV: cutoff_ms -> how many finished jobs were deleted
  static const LuaScript& purge();
  // ARGV: after_ms ("-inf" for any) -> earliest queued available-at after it, or lease
  //   deadline, in ms; -1 when none
  static const LuaScript& wakeup();

  // A script of `body` after the prelude every job script shares (P, now_ms, jkey,
  // record, enqueue, dequeue, retire, add_step, publish_event, ...): for scripts kept in
  // other files.
  static LuaScript with_prelude(const char* body);
};

}  // namespace streamer::redis
