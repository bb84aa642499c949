// The Lua of publishing one request event, shared by the event bus' publish scripts and
// the job store's finish script (which publishes an outcome in the write that records
// it), so both number and send events the same way.
#pragma once

namespace streamer::redis {

// publish_event(gk, nk, kind, text, ttl, terminal): numbers the event with the request's
// counter `nk` (INCR; its TTL `ttl` ms re-armed only once half of it is spent: a read per
// event instead of a write, and each write also goes to the AOF and the replicas), then
// PUBLISHes "<kind><seq> <text>" to the channel `ev:<gateway>` of each gateway in the set
// `gk`; a terminal event also ends the registrations (DEL gk). Returns the number.
// `text` is the request's encoded key followed by the message (see encode_key).
inline constexpr const char* kPublishEventLua = R"lua(
local function publish_event(gk, nk, kind, text, ttl, terminal)
  local seq = redis.call('INCR', nk)
  -- integers as text made with '%d' (Lua's own number formatting is '%.14g': slow)
  if redis.call('PTTL', nk) < ttl / 2 then redis.call('PEXPIRE', nk, string.format('%d', ttl)) end
  local gws = redis.call('SMEMBERS', gk)
  if #gws > 0 then
    local msg = kind .. string.format('%d', seq) .. ' ' .. text
    for i = 1, #gws do redis.call('PUBLISH', 'ev:' .. gws[i], msg) end
  end
  if terminal then redis.call('DEL', gk) end
  return seq
end
)lua";

}  // namespace streamer::redis
