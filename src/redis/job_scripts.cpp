#include "redis/job_scripts.hpp"

#include <string>

#include "redis/event_lua.hpp"

namespace streamer::redis {
namespace {

// Shared by every script: the partition prefix, the server's clock and the bookkeeping
// of the queue indexes, so each script keeps them consistent the same way.
constexpr const char* kPrelude = R"lua(
local P = KEYS[1]
-- Integers go to redis.call as text made by int(): Lua 5.1 would format each number
-- passed (or concatenated) with '%.14g', the slow floating-point path of sprintf.
local function int(x) return string.format('%d', x) end
-- the server's time in ms, as text (arithmetic on it still works: Lua coerces)
local function now_ms()
  local t = redis.call('TIME')
  return int(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
local function pad(n) return string.format('%012d', tonumber(n)) end
local function jkey(n) return P .. 'j:' .. n end
local function ukey(t, u) return string.len(t) .. ':' .. t .. u end
local function record(n) return redis.call('HGETALL', jkey(n)) end
local function wake() redis.call('ZADD', P .. 'wake', '0', 'w') end
-- The prefix of a lane's queue indexes (runnable per tenant rt:, tenants with queued
-- jobs qt, availability av, leases lease): the built-in lane '' uses P itself.
local function lanep(lane)
  if lane == nil or lane == false or lane == '' then return P end
  return P .. 'L' .. string.len(lane) .. ':' .. lane .. ':'
end
local function lane_of(n) return lanep(redis.call('HGET', jkey(n), 'lane')) end
-- A job of the lane of prefix L may be claimable: the built-in lane's pools block on P's
-- `wake`, a lane's dispatchers (in any process) on the lane's own.
local function wake_lane(L) redis.call('ZADD', L .. 'wake', '0', 'w') end
-- job n of tenant t and user u waits from `av` on; L: its lane's prefix (read when nil)
local function enqueue(n, t, u, av, L)
  L = L or lane_of(n)
  redis.call('ZADD', L .. 'rt:' .. t, av, n)
  redis.call('SADD', L .. 'qt', t)
  redis.call('ZADD', L .. 'av', av, n)
  redis.call('HINCRBY', P .. 'qu', ukey(t, u), '1')
end
local function dequeue(n, t, u, L)
  L = L or lane_of(n)
  redis.call('ZREM', L .. 'rt:' .. t, n)
  if redis.call('EXISTS', L .. 'rt:' .. t) == 0 then redis.call('SREM', L .. 'qt', t) end
  redis.call('ZREM', L .. 'av', n)
  if redis.call('HINCRBY', P .. 'qu', ukey(t, u), '-1') <= 0 then redis.call('HDEL', P .. 'qu', ukey(t, u)) end
end
-- a new claim of job n: running, next attempt, next fence (one write to the hash)
local function lease(n, worker, lu, now, L)
  local v = redis.call('HMGET', jkey(n), 'fence', 'att')
  redis.call('HSET', jkey(n), 'fence', int(tonumber(v[1] or '0') + 1), 'att',
             int(tonumber(v[2] or '0') + 1), 'st', '1', 'own', worker, 'lu', lu, 'ua', now)
  redis.call('ZADD', (L or lane_of(n)) .. 'lease', lu, n)
end
-- job n of tenant t is no longer running
local function unlease(n, t, L)
  L = L or lane_of(n)
  redis.call('ZREM', L .. 'lease', n)
  if redis.call('HINCRBY', L .. 'ln', t, '-1') <= 0 then redis.call('HDEL', L .. 'ln', t) end
end
-- whether a job read with HMGET(…, 'st', 'fence', …) into v runs under `fence`: the
-- fencing rule every write of a running attempt (renew, progress, finish, release) obeys
local function runs_under(v, fence) return v[1] == '1' and v[2] == fence end
-- leases of tenant t in the lane of prefix L (default: the built-in lane)
local function held(t, L) return tonumber(redis.call('HGET', (L or P) .. 'ln', t) or '0') end
-- the earliest time after `after` a queued job becomes runnable, or a lease ends; -1: none
local function next_wakeup(after)
  local best = -1
  local q = redis.call('ZRANGEBYSCORE', P .. 'av', after, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #q > 0 then best = tonumber(q[2]) end
  local l = redis.call('ZRANGE', P .. 'lease', 0, 0, 'WITHSCORES')
  if #l > 0 and (best < 0 or tonumber(l[2]) < best) then best = tonumber(l[2]) end
  return best
end
-- a job has ended: kept for `ttl` ms (0: until purged)
local function retire(n, t, jk, now, ttl)
  redis.call('ZADD', P .. 'fin', now, n .. ':' .. t)
  if ttl > 0 then
    local ms = int(ttl)
    redis.call('PEXPIRE', jkey(n), ms)
    redis.call('PEXPIRE', P .. 'k:' .. jk, ms)
    redis.call('PEXPIRE', P .. 'ph:' .. n, ms)
  end
end
-- job n's progress history: its latest `keep` steps, each "<attempt>:<ms>:<progress>";
-- att: the job's attempt (read when nil). A repeat of the attempt's last step is not
-- recorded again (a finish may carry the progress a racing progress write just stored).
local function add_step(n, prog, now, keep, att)
  if keep <= 0 or prog == '' then return end
  local k = P .. 'ph:' .. n
  att = att or redis.call('HGET', jkey(n), 'att') or '0'
  local last = redis.call('LINDEX', k, -1)
  if last and last:sub(1, #att + 1) == att .. ':' and last:sub(-(#prog + 1)) == ':' .. prog then
    return
  end
  if redis.call('RPUSH', k, att .. ':' .. now .. ':' .. prog) > keep then
    redis.call('LTRIM', k, -keep, -1)
  end
end
-- the text of an event of request (t, u, r): its encoded key (the event bus' encode_key),
-- then the message
local function event_text(t, u, r, message)
  u, r = u or '', r or ''
  return #t .. ':' .. t .. #u .. ':' .. u .. #r .. ':' .. r .. message
end
-- tenant t has no job left in its listing index: it leaves the partition's tenant index
local function forget_if_unlisted(t)
  if redis.call('EXISTS', P .. 'ti:' .. t) == 0 then redis.call('SREM', P .. 'tn', t) end
end
)lua";

constexpr const char* kSubmit = R"lua(
local jk, t, u = ARGV[1], ARGV[2], ARGV[3]
local max_qt, max_qu = tonumber(ARGV[9]), tonumber(ARGV[10])
local worker, ttl, cap, lane = ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13]), ARGV[14] or ''
-- ARGV[15]: a gateway to register for the new job's events ('' none), ARGV[16]: for how long
local gateway, gateway_ttl = ARGV[15] or '', tonumber(ARGV[16] or '0')
local existing = redis.call('GET', P .. 'k:' .. jk)
if existing then return {0, record(existing)} end
local leased = worker ~= '' and lane == '' and (cap == 0 or held(t) < cap)
if not leased then
  if max_qt > 0 and redis.call('ZCARD', P .. 'rt:' .. t) >= max_qt then return {3, max_qt} end
  if max_qu > 0 and tonumber(redis.call('HGET', P .. 'qu', ukey(t, u)) or '0') >= max_qu then
    return {4, max_qu}
  end
end
local now = now_ms()
local n = pad(redis.call('INCR', P .. 'seq'))
-- a job leased at once is stored as its first claim would leave it (attempt 1, fence 1)
local gen = leased and '1' or '0'
local lu = leased and int(now + ttl) or ''
redis.call('HSET', jkey(n), 'n', n, 't', t, 'u', u, 'r', ARGV[4], 'jk', jk, 'a', ARGV[5],
           'pl', ARGV[6], 'tr', ARGV[7], 'st', gen, 'att', gen, 'max', ARGV[8], 'cx', '0',
           'prog', '', 'out', '', 'le', '', 'ca', now, 'ua', now, 'av', now, 'fence', gen,
           'lane', lane, 'own', leased and worker or '', 'lu', lu)
redis.call('SET', P .. 'k:' .. jk, n)
redis.call('ZADD', P .. 'ti:' .. t, now, n)
redis.call('SADD', P .. 'tn', t)  -- a no-op (not even propagated) once t is listed
if gateway ~= '' then
  -- as the event bus registers a gateway (key `g:<jk>`), in the write that creates the
  -- job: no event of it can be published before the gateway is registered
  local g = P .. 'g:' .. jk
  redis.call('SADD', g, gateway)
  if gateway_ttl > 0 then redis.call('PEXPIRE', g, ARGV[16]) end
end
if leased then
  redis.call('ZADD', P .. 'lease', lu, n)
  redis.call('HINCRBY', P .. 'ln', t, '1')
  return {2, n, tonumber(now)}
end
enqueue(n, t, u, now, lanep(lane))
wake_lane(lanep(lane))
if worker ~= '' then return {5, n, tonumber(now)} end
return {1, n, tonumber(now)}
)lua";

constexpr const char* kClaim = R"lua(
local worker, ttl, max, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
-- ARGV[5]: the lane ('' built-in); ARGV[6]: only this tenant's jobs ('' any)
local lane, only = ARGV[5] or '', ARGV[6] or ''
local L = lanep(lane)
local now = now_ms()
local lu = int(now + ttl)
local out = {0, -1}
local claimed = 0
local tenants
if only ~= '' then tenants = {only} else tenants = redis.call('SMEMBERS', L .. 'qt') end
local leases, heads = {}, {}
local function head(t)
  local r = redis.call('ZRANGEBYSCORE', L .. 'rt:' .. t, '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
  if #r == 0 then return false end
  return {r[1], tonumber(r[2])}
end
if max > 0 then
  for _, t in ipairs(tenants) do
    leases[t] = held(t, L)
    heads[t] = head(t)
  end
end
-- each pick: the oldest runnable job of the tenant with the fewest leases, within its bound
while claimed < max do
  local pick = nil
  for _, t in ipairs(tenants) do
    local h = heads[t]
    if h and (cap == 0 or leases[t] < cap) then
      if not pick then
        pick = t
      else
        local b = heads[pick]
        if leases[t] < leases[pick] or (leases[t] == leases[pick] and
            (h[2] < b[2] or (h[2] == b[2] and h[1] < b[1]))) then
          pick = t
        end
      end
    end
  end
  if not pick then break end
  local n = heads[pick][1]
  dequeue(n, pick, redis.call('HGET', jkey(n), 'u'), L)
  lease(n, worker, lu, now, L)
  redis.call('HINCRBY', L .. 'ln', pick, '1')
  leases[pick] = leases[pick] + 1
  claimed = claimed + 1
  out[#out + 1] = record(n)
  heads[pick] = head(pick)
end
local left = false
for _, t in ipairs(tenants) do
  if heads[t] then
    if cap > 0 and leases[t] >= cap then out[1] = 1 else left = true end
  end
end
-- then jobs whose worker stopped renewing (their tenant's lease count is unchanged)
if claimed < max then
  local lapsed = redis.call('ZRANGEBYSCORE', L .. 'lease', '-inf', now, 'LIMIT', 0,
                            only == '' and (max - claimed) or 1000)
  for _, n in ipairs(lapsed) do
    if claimed >= max then break end
    if only == '' or redis.call('HGET', jkey(n), 't') == only then
      lease(n, worker, lu, now)
      claimed = claimed + 1
      out[#out + 1] = record(n)
    end
  end
end
if lane ~= '' then
  -- the pools' wake-ups and next_wakeup stay the built-in lane's; work left in the lane
  -- wakes another dispatcher serving it
  if left then wake_lane(L) end
elseif claimed < max then
  out[2] = next_wakeup('(' .. now)
elseif left or #redis.call('ZRANGEBYSCORE', P .. 'lease', '-inf', now, 'LIMIT', 0, 1) > 0 then
  wake()  -- work is left for the next claimer
end
return out
)lua";

constexpr const char* kRenew = R"lua(
local lu = now_ms() + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local n, fence = ARGV[i], ARGV[i + 1]
  local v = redis.call('HMGET', jkey(n), 'st', 'fence', 'cx')
  if runs_under(v, fence) then
    redis.call('HSET', jkey(n), 'lu', lu)
    redis.call('ZADD', lane_of(n) .. 'lease', lu, n)
    out[#out + 1] = tonumber(v[3])
  else
    out[#out + 1] = -1
  end
end
return out
)lua";

constexpr const char* kProgress = R"lua(
local now = now_ms()
local keep = tonumber(ARGV[1])
local refused = 0
for i = 2, #ARGV, 3 do
  local n = ARGV[i]
  local v = redis.call('HMGET', jkey(n), 'st', 'fence', 'att')
  if runs_under(v, ARGV[i + 1]) then
    redis.call('HSET', jkey(n), 'prog', ARGV[i + 2], 'ua', now)
    add_step(n, ARGV[i + 2], now, keep, v[3] or '0')
  else
    refused = refused + 1
  end
end
return refused
)lua";

constexpr const char* kFinish = R"lua(
local ttl, keep, event_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local out = {}
for i = 4, #ARGV, 5 do
  local n, fence, terminal, outcome, prog = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local v = redis.call('HMGET', jkey(n), 'st', 'fence', 'cx', 'out', 't', 'jk', 'att', 'lane', 'u', 'r')
  if not runs_under(v, fence) then
    out[#out + 1] = {0, 0, '', 0}
  else
    -- a requested cancel (its outcome stored by cancel) wins over any other outcome
    local instead = v[3] == '1' and terminal ~= '4' and v[4] ~= ''
    if instead then
      terminal = '4'
      outcome = v[4]
    end
    if prog ~= '' then
      redis.call('HSET', jkey(n), 'st', terminal, 'out', outcome, 'ua', now, 'fa', now, 'own', '',
                 'lu', '', 'prog', prog)
    else
      redis.call('HSET', jkey(n), 'st', terminal, 'out', outcome, 'ua', now, 'fa', now, 'own', '',
                 'lu', '')
    end
    add_step(n, prog, now, keep, v[7] or '0')
    unlease(n, v[5], lanep(v[8]))
    retire(n, v[5], v[6], now, ttl)
    -- a slot of the tenant is free: a job its bound held back may be claimable now
    if redis.call('EXISTS', P .. 'rt:' .. v[5]) == 1 then wake() end
    -- the outcome event, in the write that records it (as the event bus' publish)
    local published = 0
    if event_ttl > 0 then
      publish_event(P .. 'g:' .. v[6], P .. 'n:' .. v[6], 't', event_text(v[5], v[9], v[10], outcome),
                    event_ttl, true)
      published = 1
    end
    if instead then out[#out + 1] = {1, 1, outcome, published} else out[#out + 1] = {1, 0, '', published} end
  end
end
return out
)lua";

constexpr const char* kProgressEvents = R"lua(
local event_ttl = tonumber(ARGV[1])
local refused = 0
for i = 2, #ARGV, 3 do
  local v = redis.call('HMGET', jkey(ARGV[i]), 'st', 'fence', 'jk', 't', 'u', 'r')
  if runs_under(v, ARGV[i + 1]) then
    publish_event(P .. 'g:' .. v[3], P .. 'n:' .. v[3], 'p', event_text(v[4], v[5], v[6], ARGV[i + 2]),
                  event_ttl, false)
  else
    refused = refused + 1
  end
end
return refused
)lua";

constexpr const char* kRelease = R"lua(
local n, fence, av, err, refund = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local v = redis.call('HMGET', jkey(n), 'st', 'fence', 'cx', 't', 'u', 'lane')
if not runs_under(v, fence) then return 0 end
local L = lanep(v[6])
local now = now_ms()
-- a job whose cancel was requested is runnable at once: its next claim ends it
if v[3] == '1' then av = now end
redis.call('HSET', jkey(n), 'st', 0, 'av', av, 'le', err, 'ua', now, 'own', '', 'lu', '')
if refund == '1' then redis.call('HINCRBY', jkey(n), 'att', -1) end
unlease(n, v[4], L)
enqueue(n, v[4], v[5], av, L)
wake_lane(L)
return 1
)lua";

constexpr const char* kCancel = R"lua(
local jk, outcome, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = redis.call('GET', P .. 'k:' .. jk)
if not n then return {0, ''} end
local v = redis.call('HMGET', jkey(n), 'st', 't', 'u', 'own', 'lane')
if not v[1] then return {0, ''} end
local now = now_ms()
if v[1] == '0' then
  dequeue(n, v[2], v[3], lanep(v[5]))
  redis.call('HSET', jkey(n), 'st', 4, 'out', outcome, 'ua', now, 'fa', now)
  retire(n, v[2], jk, now, ttl)
  return {1, ''}
end
if v[1] == '1' then
  redis.call('HSET', jkey(n), 'cx', 1, 'out', outcome, 'ua', now)
  return {2, v[4]}
end
return {3, ''}
)lua";

constexpr const char* kFind = R"lua(
local n = redis.call('GET', P .. 'k:' .. ARGV[1])
if not n then return false end
return record(n)
)lua";

constexpr const char* kPurge = R"lua(
local gone = redis.call('ZRANGEBYSCORE', P .. 'fin', '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
local deleted, touched = 0, {}
for _, m in ipairs(gone) do
  local sep = string.find(m, ':', 1, true)
  local n, t = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
  local jk = redis.call('HGET', jkey(n), 'jk')
  if jk then
    redis.call('DEL', jkey(n), P .. 'k:' .. jk, P .. 'ph:' .. n)
    deleted = deleted + 1
  end
  redis.call('ZREM', P .. 'ti:' .. t, n)
  redis.call('ZREM', P .. 'fin', m)
  touched[t] = true
end
for t in pairs(touched) do forget_if_unlisted(t) end
return deleted
)lua";

constexpr const char* kWakeup = R"lua(
return next_wakeup(ARGV[1])
)lua";

}  // namespace

LuaScript JobScripts::with_prelude(const char* body) {
  return LuaScript(std::string(kPrelude) + kPublishEventLua + body);
}

namespace {
LuaScript make(const char* body) { return JobScripts::with_prelude(body); }
}  // namespace

const LuaScript& JobScripts::submit() {
  static const LuaScript s = make(kSubmit);
  return s;
}
const LuaScript& JobScripts::claim() {
  static const LuaScript s = make(kClaim);
  return s;
}
const LuaScript& JobScripts::renew() {
  static const LuaScript s = make(kRenew);
  return s;
}
const LuaScript& JobScripts::progress() {
  static const LuaScript s = make(kProgress);
  return s;
}
const LuaScript& JobScripts::finish() {
  static const LuaScript s = make(kFinish);
  return s;
}
const LuaScript& JobScripts::progress_events() {
  static const LuaScript s = make(kProgressEvents);
  return s;
}
const LuaScript& JobScripts::release() {
  static const LuaScript s = make(kRelease);
  return s;
}
const LuaScript& JobScripts::cancel() {
  static const LuaScript s = make(kCancel);
  return s;
}
const LuaScript& JobScripts::find() {
  static const LuaScript s = make(kFind);
  return s;
}
const LuaScript& JobScripts::purge() {
  static const LuaScript s = make(kPurge);
  return s;
}
const LuaScript& JobScripts::wakeup() {
  static const LuaScript s = make(kWakeup);
  return s;
}

}  // namespace streamer::redis
