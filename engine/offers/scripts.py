"""Lua run inside Redis: each script touches the keys of one offer (one slot) only.

Redis runs a script to completion before any other command, so the check of every
cap and the reservation of the unit are one indivisible step: 200 clients racing
for the last 50 units can only ever produce 50 grants.
"""

from __future__ import annotations

#: Gives a reserved or committed unit back: to the total, the customer's cap and the
#: day/week/month counters it was counted in (their key names are stored in the
#: reservation's hash, all in this offer's slot). Shared by RESERVE (lazy expiry) and
#: RESERVATION (outcomes and the worker's sweep).
GIVE_BACK = """
local function give_back(budget, customers, hkey, rdue, new_state, cause, at, cause_event, keep)
  local h = redis.call('HMGET', hkey, 'state', 'cfield', 'event', 'day_key', 'week_key', 'month_key')
  redis.call('HINCRBY', budget, h[1], -1)
  redis.call('HINCRBY', budget, new_state, 1)
  redis.call('HINCRBY', budget, 'used', -1)
  if redis.call('HINCRBY', customers, h[2], -1) <= 0 then redis.call('HDEL', customers, h[2]) end
  for i = 4, 6 do
    if h[i] and h[i] ~= '' and redis.call('EXISTS', h[i]) == 1 then redis.call('DECR', h[i]) end
  end
  redis.call('HSET', hkey, 'state', new_state, 'changed_at', at, 'cause', cause, 'cause_event', cause_event)
  redis.call('EXPIRE', hkey, keep)
  redis.call('ZREM', rdue, h[3])
end
"""

#: KEYS: budget, customers, day, event, hold, due, week, month, rdue
#: ARGV: 1 customer field (beneficiary, or beneficiary|period), 2 total, 3 per_customer,
#:       4 per_day (-1 = none), 5 day_ttl, 6 event_ttl, 7 mode (0 grant, 1 hold,
#:       2 reserve), 8 void_at / expires_at, 9 subject, 10 release_on (hold),
#:       11 event_id, 12 at, 13 day, 14 per_week, 15 per_month, 16 period_ttl,
#:       17 beneficiary, 18 order reference, 19 commit_on, 20 release_on list (comma),
#:       21 keep_ttl, 22 return window (s; 0 = released by the outcome itself)
#: Releases up to 20 lapsed reservations first (lazily, at the event's time), so a
#: budget is never blocked by checkouts that were abandoned.
#: Returns "status|remaining|void_at|fresh": a refusal's status lists every cause that holds,
#: comma-separated, first the one that would remain longest (total, customer, day, week,
#: month), so a customer who used the offer and finds it spent hears both. fresh is 1 when this call decided, 0 when
#: it returns the outcome stored for a retried event. The stored outcome carries its
#: beneficiary ("outcome#beneficiary"): the same event id sent for someone else (its
#: API claim gone with a lost answer) gets "event_taken", never the first one's unit.
RESERVE = (
    GIVE_BACK
    + """
local stored = redis.call('GET', KEYS[4])
if stored then
  local sep = string.find(stored, '#', 1, true)
  if sep then
    if string.sub(stored, sep + 1) ~= ARGV[17] then return 'event_taken|||0' end
    stored = string.sub(stored, 1, sep - 1)
  end
  return stored .. '|0'
end
local base = string.sub(KEYS[1], 1, -8)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', ARGV[12], 'LIMIT', 0, 20)
for _, ev in ipairs(lapsed) do
  local hk = base .. ':hold:' .. ev
  if redis.call('HGET', hk, 'state') == 'reserved' then
    give_back(KEYS[1], KEYS[2], hk, KEYS[9], 'lapsed', 'expired', ARGV[12], '', ARGV[21])
  else
    redis.call('ZREM', KEYS[9], ev)
  end
end
local total = tonumber(ARGV[2])
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local causes = {}
if total >= 0 and used >= total then causes[#causes + 1] = 'exhausted' end
if tonumber(ARGV[3]) >= 0
    and tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') >= tonumber(ARGV[3]) then
  causes[#causes + 1] = 'customer_cap'
end
if tonumber(ARGV[4]) >= 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[4]) then
  causes[#causes + 1] = 'daily_cap'
end
if tonumber(ARGV[14]) >= 0 and tonumber(redis.call('GET', KEYS[7]) or '0') >= tonumber(ARGV[14]) then
  causes[#causes + 1] = 'weekly_cap'
end
if tonumber(ARGV[15]) >= 0 and tonumber(redis.call('GET', KEYS[8]) or '0') >= tonumber(ARGV[15]) then
  causes[#causes + 1] = 'monthly_cap'
end
local status = nil
if #causes > 0 then status = table.concat(causes, ',') end
local void_at = ''
if not status then
  used = redis.call('HINCRBY', KEYS[1], 'used', 1)
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  -- a period counter gets its TTL when it is created (its first unit), not on every grant:
  -- from the period's first grant it still outlives the period by the TTL less the period
  if redis.call('INCR', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
  local week_key, month_key = '', ''
  if tonumber(ARGV[14]) >= 0 then
    if redis.call('INCR', KEYS[7]) == 1 then redis.call('EXPIRE', KEYS[7], ARGV[16]) end
    week_key = KEYS[7]
  end
  if tonumber(ARGV[15]) >= 0 then
    if redis.call('INCR', KEYS[8]) == 1 then redis.call('EXPIRE', KEYS[8], ARGV[16]) end
    month_key = KEYS[8]
  end
  if ARGV[7] == '1' then
    status = 'held'
    void_at = ARGV[8]
    redis.call('HINCRBY', KEYS[1], 'held', 1)
    redis.call('HSET', KEYS[5], 'state', 'held', 'subject', ARGV[9], 'beneficiary', ARGV[17],
      'release_on', ARGV[10], 'event', ARGV[11], 'at', ARGV[12], 'void_at', ARGV[8],
      'day', ARGV[13], 'cfield', ARGV[1], 'window', ARGV[22])
    redis.call('ZADD', KEYS[6], ARGV[8], ARGV[11])
  elseif ARGV[7] == '2' then
    status = 'reserved'
    void_at = ARGV[8]
    redis.call('HINCRBY', KEYS[1], 'reserved', 1)
    redis.call('HSET', KEYS[5], 'state', 'reserved', 'kind', 'reservation', 'subject', ARGV[9],
      'beneficiary', ARGV[17], 'cfield', ARGV[1], 'event', ARGV[11], 'at', ARGV[12],
      'expires_at', ARGV[8], 'order', ARGV[18], 'commit_on', ARGV[19], 'release_on', ARGV[20],
      'day_key', KEYS[3], 'week_key', week_key, 'month_key', month_key)
    redis.call('EXPIRE', KEYS[5], ARGV[21])
    redis.call('ZADD', KEYS[9], ARGV[8], ARGV[11])
  else
    status = 'granted'
    redis.call('HINCRBY', KEYS[1], 'granted', 1)
  end
end
local remaining = ''
if total >= 0 then remaining = tostring(math.max(total - used, 0)) end
local outcome = status .. '|' .. remaining .. '|' .. void_at
redis.call('SET', KEYS[4], outcome .. '#' .. ARGV[17], 'EX', ARGV[6])
return outcome .. '|1'
"""
)

#: KEYS: budget, customers, hold, rdue
#: ARGV: action (outcome | expire | cancel), customer, cause (outcome type, or the late
#:       evidence for cancel), at, cause event id, keep_ttl, order reference ('' = any)
#: reserved -> committed (commit_on), reserved -> cancelled / committed -> refunded
#: (release_on), reserved -> lapsed (expire, past expires_at), reserved -> cancelled
#: (cancel: late evidence against the customer). Each step happens once.
#: Returns {'changed', new_state, subject, beneficiary} | {'gone'} | {'kept'}
RESERVATION = (
    GIVE_BACK
    + """
local h = redis.call('HMGET', KEYS[3], 'state', 'subject', 'commit_on', 'release_on', 'expires_at',
  'order', 'beneficiary', 'event')
if not h[1] or (h[1] ~= 'reserved' and h[1] ~= 'committed') then return {'gone'} end
local action, customer, cause, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if action == 'expire' then
  if h[1] ~= 'reserved' or tonumber(h[5]) > tonumber(at) then return {'kept'} end
  give_back(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 'lapsed', 'expired', at, '', ARGV[6])
  return {'changed', 'lapsed', h[2], h[7]}
end
if action == 'cancel' then
  if h[1] ~= 'reserved' or (h[2] ~= customer and h[7] ~= customer) then return {'kept'} end
  give_back(KEYS[1], KEYS[2], KEYS[3], KEYS[4], 'cancelled', cause, at, ARGV[5], ARGV[6])
  return {'changed', 'cancelled', h[2], h[7]}
end
if h[2] ~= customer then return {'kept'} end
if ARGV[7] ~= '' and h[6] ~= '' and h[6] ~= ARGV[7] then return {'kept'} end
if h[1] == 'reserved' and cause == h[3] then
  redis.call('HINCRBY', KEYS[1], 'reserved', -1)
  redis.call('HINCRBY', KEYS[1], 'committed', 1)
  redis.call('HSET', KEYS[3], 'state', 'committed', 'changed_at', at, 'cause', cause, 'cause_event', ARGV[5])
  redis.call('ZREM', KEYS[4], h[8])
  return {'changed', 'committed', h[2], h[7]}
end
for name in string.gmatch(h[4], '[^,]+') do
  if name == cause then
    local new_state = (h[1] == 'committed') and 'refunded' or 'cancelled'
    give_back(KEYS[1], KEYS[2], KEYS[3], KEYS[4], new_state, cause, at, ARGV[5], ARGV[6])
    return {'changed', new_state, h[2], h[7]}
  end
end
return {'kept'}
"""
)

#: KEYS: budget, customers, hold, due
#: ARGV: action (release | void | expire | approve), customer, cause (event type, label,
#:       or late evidence), at (epoch seconds of the cause), cause event id, keep_ttl,
#:       [7 the cause's order reference]
#: A hold with a return ``window``: its release outcome only starts the window (``earn_at``,
#: its due score moved there; returns {'earning', subject, beneficiary, earn_at}); a refund
#: by the subject before then voids it, and ``expire`` at ``earn_at`` releases it.
#: void: the customer is the hold's subject, or its beneficiary for any cause but a
#: chargeback (a fraud label, a denied case, a link at checkout); approve: a reviewer
#: releases the beneficiary's hold. A hold leaves ``held`` exactly once. Returns
#:   {'changed', new_state, subject, beneficiary, void_at}  -- this call moved it
#:   {'gone'}  -- unknown or already released/voided: drop it from customer indexes
#:   {'kept'}  -- still pending, but this cause does not apply to it
TRANSITION = """
local h = redis.call('HMGET', KEYS[3], 'state', 'subject', 'beneficiary', 'release_on', 'void_at',
  'event', 'window', 'earn_at', 'earn_ref')
if not h[1] or h[1] ~= 'held' then return {'gone'} end
local action, customer, cause = ARGV[1], ARGV[2], ARGV[3]
local at, void_at = tonumber(ARGV[4]), tonumber(h[5])
local window, earn_at = tonumber(h[7] or '0') or 0, h[8] and tonumber(h[8])
local cfield = redis.call('HGET', KEYS[3], 'cfield') or h[3]
if action == 'release' and earn_at then
  if h[2] ~= customer or cause ~= 'refund' then return {'kept'} end
  action = 'void'               -- refunded within its return window: never earned
elseif action == 'release' then
  if h[2] ~= customer or h[4] ~= cause then return {'kept'} end
  if at > void_at then
    action = 'expire'
  elseif h[3] ~= h[2] and ARGV[8] and string.find(ARGV[8], '|' .. h[3] .. '|', 1, true) then
    action, cause = 'void', 'linked_payer'  -- the payer is linked to the beneficiary: its own referral
  elseif window > 0 then
    local due = at + window
    redis.call('HSET', KEYS[3], 'earn_at', tostring(due), 'earn_ref', ARGV[7] or ARGV[5])
    redis.call('ZADD', KEYS[4], tostring(due), h[6])
    return {'earning', h[2], h[3], tostring(due)}
  end
elseif action == 'void' then
  if h[2] ~= customer and not (cause ~= 'chargeback' and h[3] == customer) then return {'kept'} end
elseif action == 'approve' then
  if h[3] ~= customer then return {'kept'} end
  action = 'release'
elseif action == 'expire' and earn_at then
  if earn_at > at then return {'kept'} end
  action = 'release'            -- the return window passed without a refund
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
  if redis.call('HINCRBY', KEYS[2], cfield, -1) <= 0 then redis.call('HDEL', KEYS[2], cfield) end
end
redis.call('HSET', KEYS[3], 'state', state, 'changed_at', ARGV[4], 'cause', cause,
  'cause_event', ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[6])
redis.call('ZREM', KEYS[4], h[6])
return {'changed', state, h[2], h[3], h[5], h[9] or '', cause}
"""

#: KEYS: grants (zset), holds (set) of one customer
#: ARGV: keep (newest grant records kept), n, then n pairs (score, member), then hold ids
RECORD = """
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
  redis.call('ZADD', KEYS[1], ARGV[3 + 2 * i], ARGV[4 + 2 * i])
end
if n > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -1 - tonumber(ARGV[1]))
  redis.call('DEL', KEYS[3])  -- the link summary's copy of the grants (engine/features/links.py)
end
for i = 3 + 2 * n, #ARGV do
  redis.call('SADD', KEYS[2], ARGV[i])
end
return n
"""
