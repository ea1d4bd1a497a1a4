"""Lua run inside Redis: each script touches the keys of one offer (one slot) only.

Redis runs a script to completion before any other command, so the check of every
cap and the reservation of the unit are one indivisible step: 200 clients racing
for the last 50 units can only ever produce 50 grants.
"""

from __future__ import annotations

#: KEYS: budget, customers, day, event, hold, due
#: ARGV: beneficiary, total, per_customer, per_day (-1 = none), day_ttl, event_ttl,
#:       held (0/1), void_at, subject, release_on, event_id, at, day
#: Returns "status|remaining|void_at" (remaining empty when the offer has no total),
#: the same string again for a retried event: it is stored under the event's key.
RESERVE = """
local stored = redis.call('GET', KEYS[4])
if stored then return stored end
local total = tonumber(ARGV[2])
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local status = nil
if total >= 0 and used >= total then
  status = 'exhausted'
elseif tonumber(ARGV[3]) >= 0
    and tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') >= tonumber(ARGV[3]) then
  status = 'customer_cap'
elseif tonumber(ARGV[4]) >= 0
    and tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[4]) then
  status = 'daily_cap'
end
local void_at = ''
if not status then
  used = redis.call('HINCRBY', KEYS[1], 'used', 1)
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
  if ARGV[7] == '1' then
    status = 'held'
    void_at = ARGV[8]
    redis.call('HINCRBY', KEYS[1], 'held', 1)
    redis.call('HSET', KEYS[5], 'state', 'held', 'subject', ARGV[9], 'beneficiary', ARGV[1],
      'release_on', ARGV[10], 'event', ARGV[11], 'at', ARGV[12], 'void_at', ARGV[8],
      'day', ARGV[13])
    redis.call('ZADD', KEYS[6], ARGV[8], ARGV[11])
  else
    status = 'granted'
    redis.call('HINCRBY', KEYS[1], 'granted', 1)
  end
end
local remaining = ''
if total >= 0 then remaining = tostring(math.max(total - used, 0)) end
local outcome = status .. '|' .. remaining .. '|' .. void_at
redis.call('SET', KEYS[4], outcome, 'EX', ARGV[6])
return outcome
"""

#: KEYS: budget, customers, hold, due
#: ARGV: action (release | void | expire), customer, cause (event type or label),
#:       at (epoch seconds of the cause), cause event id, keep_ttl
#: A hold leaves ``held`` exactly once. Returns
#:   {'changed', new_state, subject, beneficiary, void_at}  -- this call moved it
#:   {'gone'}  -- unknown or already released/voided: drop it from customer indexes
#:   {'kept'}  -- still pending, but this cause does not apply to it
TRANSITION = """
local h = redis.call('HMGET', KEYS[3], 'state', 'subject', 'beneficiary', 'release_on', 'void_at',
  'event')
if not h[1] or h[1] ~= 'held' then return {'gone'} end
local action, customer, cause = ARGV[1], ARGV[2], ARGV[3]
local at, void_at = tonumber(ARGV[4]), tonumber(h[5])
if action == 'release' then
  if h[2] ~= customer or h[4] ~= cause then return {'kept'} end
  if at > void_at then action = 'expire' end
elseif action == 'void' then
  if h[2] ~= customer and not (cause == 'fraud' and h[3] == customer) then return {'kept'} end
elseif action == 'expire' then
  if void_at > at then return {'kept'} end
else
  return redis.error_reply('unknown hold action ' .. action)
end
local state = 'released'
redis.call('HINCRBY', KEYS[1], 'held', -1)
if action == 'release' then
  redis.call('HINCRBY', KEYS[1], 'released', 1)
else
  state = (action == 'expire') and 'expired' or 'voided'
  redis.call('HINCRBY', KEYS[1], state, 1)
  redis.call('HINCRBY', KEYS[1], 'used', -1)
  if redis.call('HINCRBY', KEYS[2], h[3], -1) <= 0 then redis.call('HDEL', KEYS[2], h[3]) end
end
redis.call('HSET', KEYS[3], 'state', state, 'changed_at', ARGV[4], 'cause', cause,
  'cause_event', ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('ZREM', KEYS[4], h[6])
return {'changed', state, h[2], h[3], h[5]}
"""

#: KEYS: grants (zset), holds (set) of one customer
#: ARGV: keep (newest grant records kept), n, then n pairs (score, member), then hold ids
RECORD = """
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
  redis.call('ZADD', KEYS[1], ARGV[3 + 2 * i], ARGV[4 + 2 * i])
end
if n > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -1 - tonumber(ARGV[1])) end
for i = 3 + 2 * n, #ARGV do
  redis.call('SADD', KEYS[2], ARGV[i])
end
return n
"""
