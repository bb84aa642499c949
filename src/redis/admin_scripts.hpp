// The Lua scripts of the Redis JobStore's admin API: listing, queue statistics, recent
// failures, retry, scoped purge and progress history. Like the job scripts (see
// job_scripts.hpp for the keys of a partition) each gets one partition's prefix as
// KEYS[1] and touches only its keys; the tenants a read covers are named in ARGV (the
// caller's scope, or every tenant of the partition), so no script reads another
// tenant's jobs unless asked to.
#pragma once

#include "redis/redis_client.hpp"

namespace streamer::redis {

struct AdminScripts {
  // ARGV: partition user action states since before after_ca after_p after_n limit,
  //   tenant... ('' for each unset filter; states: digits of the statuses wanted;
  //   since/before: ms bounds, before exclusive; after_*: the keyset position)
  // -> flat {created_ms, record} pairs, newest first (created_at, then partition and
  //    job number), at most `limit` of them.
  static const LuaScript& list();
  // ARGV: user, tenant... -> flat {action, queued, oldest_created_ms} triples
  static const LuaScript& queue_stats();
  // ARGV: tenant user limit scan_max -> flat {finished_ms, record} pairs of failed jobs,
  //   the last finished first, looking at the `scan_max` latest finished jobs at most
  static const LuaScript& failures();
  // ARGV: jk extra_attempts note -> {0} not found | {1, record} requeued |
  //   {2, record} not failed
  static const LuaScript& requeue();
  // ARGV: cutoff_ms tenant user offset -> {deleted, kept, more}: one batch (up to 1000)
  //   of the finished jobs before cutoff, from position `offset` of the finish index;
  //   `kept` of them were outside the scope (still indexed), `more`: entries remain.
  static const LuaScript& purge_scope();
  // ARGV: jk -> the job's history list ("<attempt>:<ms>:<progress>", oldest first)
  static const LuaScript& history();
};

}  // namespace streamer::redis
