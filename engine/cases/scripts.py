"""Lua run inside Redis: every script touches one tenant's queue (one slot, engine.cases.keys).

Each step of a case is one script, so it is indivisible: two reviewers claiming at
once get one lease between them, a decision and a timeout racing decide once, and
a retried step finds its own result instead of acting twice.
"""

from __future__ import annotations

#: KEYS: actors, all, open, due
#: ARGV: 1 base, 2 actor, 3 new case id, 4 customer, 5 event id, 6 at, 7 deadline,
#:       8 score, 9 value at stake, 10 tier, 11 event JSON, 12 max events kept, 13.. rule ids
#: Joins the actor's undecided case, else opens one. An event joins once (its id).
#: Returns {case id, opened (1|0), joined (1|0)}
OPEN = """
local base, actor = ARGV[1], ARGV[2]
local id = redis.call('HGET', KEYS[1], actor)
local opened = 0
if not id then
  id = ARGV[3]
  local ck = base .. ':case:' .. id
  if redis.call('EXISTS', ck) == 0 then
    redis.call('HSET', ck, 'id', id, 'actor', actor, 'customer', ARGV[4], 'state', 'open',
      'opened_at', ARGV[6], 'deadline', ARGV[7], 'updated_at', ARGV[6], 'score', 0, 'value', 0,
      'tier', ARGV[10], 'events', 0, 'reasons', '')
    redis.call('ZADD', KEYS[2], ARGV[6], id)
    redis.call('ZADD', KEYS[3], ARGV[6], id)
    redis.call('ZADD', KEYS[4], ARGV[7], id)
    opened = 1
  end
  if redis.call('HGET', ck, 'state') == 'open' or redis.call('HGET', ck, 'state') == 'escalated' then
    redis.call('HSET', KEYS[1], actor, id)
  end
end
local ck = base .. ':case:' .. id
if redis.call('HSETNX', ck .. ':events', ARGV[5], ARGV[11]) == 0 then return {id, opened, 0} end
redis.call('ZADD', ck .. ':order', ARGV[6], ARGV[5])
local count = redis.call('HINCRBY', ck, 'events', 1)
if count > tonumber(ARGV[12]) then
  local oldest = redis.call('ZRANGE', ck .. ':order', 0, 0)[1]
  redis.call('ZREM', ck .. ':order', oldest)
  redis.call('HDEL', ck .. ':events', oldest)
end
if tonumber(ARGV[8]) > tonumber(redis.call('HGET', ck, 'score') or '0') then
  redis.call('HSET', ck, 'score', ARGV[8])
end
redis.call('HINCRBYFLOAT', ck, 'value', ARGV[9])
for i = 13, #ARGV do redis.call('SADD', ck .. ':reasons', ARGV[i]) end
local reasons = redis.call('SMEMBERS', ck .. ':reasons')
table.sort(reasons)
redis.call('HSET', ck, 'tier', ARGV[10], 'updated_at', ARGV[6], 'reasons', table.concat(reasons, ','))
return {id, opened, 1}
"""

#: KEYS: case, log. ARGV: reviewer, now, lease until, log entry JSON
#: Returns {'ok', lease until} | {'taken', holder, until} | {'decided', state} | {'missing'}
CLAIM = """
local h = redis.call('HMGET', KEYS[1], 'state', 'claimed_by', 'lease_until')
if not h[1] then return {'missing'} end
if h[1] ~= 'open' and h[1] ~= 'escalated' then return {'decided', h[1]} end
if h[2] and h[2] ~= ARGV[1] and tonumber(h[3]) > tonumber(ARGV[2]) then return {'taken', h[2], h[3]} end
redis.call('HSET', KEYS[1], 'claimed_by', ARGV[1], 'lease_until', ARGV[3], 'updated_at', ARGV[2])
if h[2] ~= ARGV[1] then redis.call('RPUSH', KEYS[2], ARGV[4]) end
return {'ok', ARGV[3]}
"""

#: KEYS: case, log, actors, open, due, acting
#: ARGV: 1 reviewer, 2 decision (approve | deny | escalate | keep), 3 note, 4 now, 5 role,
#:       6 by (reviewer | timeout), 7 log entry JSON
#: A case is decided once: approve / deny end it, escalate hands it on (it stays
#: undecided), keep marks a timeout that leaves it with a person. A decided case
#: answers the same decision with 'replay' (its actions may be finished again),
#: another one with 'conflict'. A live lease of someone else refuses a reviewer
#: ('taken'); a timeout does not wait for a lease, but never overrides a decision.
#: Returns {'ok'|'replay'|'conflict'|'taken'|'missing', state, holder}
DECIDE = """
local h = redis.call('HMGET', KEYS[1], 'state', 'claimed_by', 'lease_until', 'decision', 'actor', 'id')
if not h[1] then return {'missing', '', ''} end
local decision, now, by = ARGV[2], ARGV[4], ARGV[6]
local final = (h[1] == 'approved' or h[1] == 'denied')
if final then
  if h[4] == decision and by ~= 'timeout' then return {'replay', h[1], ''} end
  if by == 'timeout' then redis.call('ZREM', KEYS[5], h[6]) end
  return {'conflict', h[1], ''}
end
if by == 'timeout' and redis.call('ZSCORE', KEYS[5], h[6]) == false then return {'conflict', h[1], ''} end
if by ~= 'timeout' and h[2] and h[2] ~= ARGV[1] and tonumber(h[3]) > tonumber(now) then
  return {'taken', h[1], h[2]}
end
if decision == 'escalate' and h[1] == 'escalated' then return {'replay', h[1], ''} end
redis.call('RPUSH', KEYS[2], ARGV[7])
if decision == 'keep' then
  redis.call('ZREM', KEYS[5], h[6])
  redis.call('HSET', KEYS[1], 'overdue', '1', 'updated_at', now)
  return {'ok', h[1], ''}
end
redis.call('HDEL', KEYS[1], 'claimed_by', 'lease_until')
if decision == 'escalate' then
  redis.call('HSET', KEYS[1], 'state', 'escalated', 'escalated_at', now, 'updated_at', now)
  return {'ok', 'escalated', ''}
end
local state = (decision == 'approve') and 'approved' or 'denied'
redis.call('HSET', KEYS[1], 'state', state, 'decision', decision, 'note', ARGV[3], 'decided_at', now,
  'decided_by', ARGV[1], 'decided_role', ARGV[5], 'decided_via', by, 'updated_at', now)
if redis.call('HGET', KEYS[3], h[5]) == h[6] then redis.call('HDEL', KEYS[3], h[5]) end
redis.call('ZREM', KEYS[4], h[6])
redis.call('ZREM', KEYS[5], h[6])
redis.call('ZADD', KEYS[6], now, h[6])
return {'ok', state, ''}
"""

#: KEYS: case, acting. ARGV: result JSON, case id
#: The decision's actions are done: keep what they did, take the case off ``acting``.
FINISH = """
redis.call('HSET', KEYS[1], 'result', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"""
