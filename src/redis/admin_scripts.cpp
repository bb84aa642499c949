#include "redis/admin_scripts.hpp"

#include "redis/job_scripts.hpp"

namespace streamer::redis {
namespace {

constexpr const char* kList = R"lua(
local pid, user, action, states = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local since, before = ARGV[5], ARGV[6]
local after_ca, after_p, after_n = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local limit = tonumber(ARGV[10])
local max = before == '' and '+inf' or '(' .. before
if after_ca ~= '' and (before == '' or tonumber(after_ca) < tonumber(before)) then max = after_ca end
local min = since == '' and '-inf' or since
-- (ca, n) comes after the keyset position in newest-first order
local function after_cursor(ca, n)
  if after_ca == '' then return true end
  local c = tonumber(after_ca)
  if ca ~= c then return ca < c end
  if pid ~= after_p then return pid < after_p end
  return tonumber(n) < after_n
end
local found = {}
for i = 11, #ARGV do
  local t = ARGV[i]
  local ti = P .. 'ti:' .. t
  local offset, matched = 0, 0
  while matched < limit do
    local batch = redis.call('ZREVRANGEBYSCORE', ti, max, min, 'WITHSCORES', 'LIMIT', offset, 200)
    if #batch == 0 then break end
    offset = offset + #batch / 2
    for j = 1, #batch, 2 do
      local n, ca = batch[j], tonumber(batch[j + 1])
      local v = redis.call('HMGET', jkey(n), 'u', 'a', 'st')
      if not v[3] then
        redis.call('ZREM', ti, n)  -- expired with its result TTL
        offset = offset - 1
      elseif after_cursor(ca, n) and (user == '' or v[1] == user) and
          (action == '' or v[2] == action) and (states == '' or string.find(states, v[3], 1, true)) then
        found[#found + 1] = {ca, n}
        matched = matched + 1
        if matched >= limit then break end
      end
    end
  end
  if offset == 0 then forget_if_unlisted(t) end  -- nothing listed (left): out of the index
end
table.sort(found, function(a, b)
  if a[1] ~= b[1] then return a[1] > b[1] end
  return a[2] > b[2]
end)
local out = {}
for i = 1, math.min(limit, #found) do
  out[#out + 1] = found[i][1]
  out[#out + 1] = record(found[i][2])
end
return out
)lua";

constexpr const char* kQueueStats = R"lua(
local user = ARGV[1]
local by_action, order = {}, {}
for i = 2, #ARGV do
  for _, n in ipairs(redis.call('ZRANGE', P .. 'rt:' .. ARGV[i], 0, -1)) do
    local v = redis.call('HMGET', jkey(n), 'u', 'a', 'ca')
    if v[2] and (user == '' or v[1] == user) then
      local s = by_action[v[2]]
      if not s then
        s = {0, tonumber(v[3])}
        by_action[v[2]] = s
        order[#order + 1] = v[2]
      end
      s[1] = s[1] + 1
      if tonumber(v[3]) < s[2] then s[2] = tonumber(v[3]) end
    end
  end
end
local out = {}
for _, a in ipairs(order) do
  out[#out + 1] = a
  out[#out + 1] = by_action[a][1]
  out[#out + 1] = by_action[a][2]
end
return out
)lua";

constexpr const char* kFailures = R"lua(
local tenant, user, limit, scan_max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out, found, offset = {}, 0, 0
while found < limit and offset < scan_max do
  local batch = redis.call('ZREVRANGE', P .. 'fin', offset, offset + 199, 'WITHSCORES')
  if #batch == 0 then break end
  offset = offset + 200
  for j = 1, #batch, 2 do
    local m = batch[j]
    local sep = string.find(m, ':', 1, true)
    local n, t = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
    if tenant == '' or t == tenant then
      local v = redis.call('HMGET', jkey(n), 'st', 'u')
      if v[1] == '3' and (user == '' or v[2] == user) then
        out[#out + 1] = batch[j + 1]
        out[#out + 1] = record(n)
        found = found + 1
        if found >= limit then break end
      end
    end
  end
end
return out
)lua";

constexpr const char* kRequeue = R"lua(
local jk, extra, note = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local n = redis.call('GET', P .. 'k:' .. jk)
if not n then return {0} end
local v = redis.call('HMGET', jkey(n), 'st', 't', 'u', 'att')
if not v[1] then return {0} end
if v[1] ~= '3' then return {2, record(n)} end
local now = now_ms()
redis.call('HSET', jkey(n), 'st', 0, 'max', tonumber(v[4]) + extra, 'le', note, 'out', '',
           'prog', '', 'cx', 0, 'ua', now, 'av', now, 'own', '', 'lu', '')
redis.call('HDEL', jkey(n), 'fa')
-- no longer finished: kept until it ends again
redis.call('PERSIST', jkey(n))
redis.call('PERSIST', P .. 'k:' .. jk)
redis.call('PERSIST', P .. 'ph:' .. n)
redis.call('ZREM', P .. 'fin', n .. ':' .. v[2])
enqueue(n, v[2], v[3], now)
wake()
return {1, record(n)}
)lua";

constexpr const char* kPurgeScope = R"lua(
local cutoff, tenant, user, offset = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local batch = redis.call('ZRANGEBYSCORE', P .. 'fin', '-inf', '(' .. cutoff, 'LIMIT', offset, 1000)
local deleted, kept, touched = 0, 0, {}
for _, m in ipairs(batch) do
  local sep = string.find(m, ':', 1, true)
  local n, t = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
  if tenant ~= '' and t ~= tenant then
    kept = kept + 1
  else
    local v = redis.call('HMGET', jkey(n), 'jk', 'u')
    if v[1] and user ~= '' and v[2] ~= user then
      kept = kept + 1
    else
      if v[1] then
        redis.call('DEL', jkey(n), P .. 'k:' .. v[1], P .. 'ph:' .. n)
        deleted = deleted + 1
      end
      redis.call('ZREM', P .. 'ti:' .. t, n)
      redis.call('ZREM', P .. 'fin', m)
      touched[t] = true
    end
  end
end
for t in pairs(touched) do forget_if_unlisted(t) end
return {deleted, kept, #batch == 1000 and 1 or 0}
)lua";

constexpr const char* kHistory = R"lua(
local n = redis.call('GET', P .. 'k:' .. ARGV[1])
if not n then return {} end
return redis.call('LRANGE', P .. 'ph:' .. n, 0, -1)
)lua";

}  // namespace

const LuaScript& AdminScripts::list() {
  static const LuaScript s = JobScripts::with_prelude(kList);
  return s;
}
const LuaScript& AdminScripts::queue_stats() {
  static const LuaScript s = JobScripts::with_prelude(kQueueStats);
  return s;
}
const LuaScript& AdminScripts::failures() {
  static const LuaScript s = JobScripts::with_prelude(kFailures);
  return s;
}
const LuaScript& AdminScripts::requeue() {
  static const LuaScript s = JobScripts::with_prelude(kRequeue);
  return s;
}
const LuaScript& AdminScripts::purge_scope() {
  static const LuaScript s = JobScripts::with_prelude(kPurgeScope);
  return s;
}
const LuaScript& AdminScripts::history() {
  static const LuaScript s = JobScripts::with_prelude(kHistory);
  return s;
}

}  // namespace streamer::redis
