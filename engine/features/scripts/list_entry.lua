-- Add or remove one block/allow/watch/store entry of one entity value, or index it.
-- KEYS[1]: the entity's list hash (fields <kind> = expiry ms or 0, <kind>:m = metadata json)
--          or, for 'index', the tenant's list index (sorted set).
-- ARGV: op ('add' | 'remove' | 'index'), kind/member, expiry ms, metadata, default ttl ms, now ms
-- The hash expires with its last-expiring entry (plus a day, so a late read still sees
-- why an entry existed), or after the default TTL when an entry never expires.
local key, op = KEYS[1], ARGV[1]
local DAY = 86400000

local function retime()
  local kinds = redis.call('HMGET', key, 'block', 'allow', 'watch', 'store')
  local latest, forever, any = 0, false, false
  for _, e in ipairs(kinds) do
    if e then
      any = true
      if e == '0' then forever = true elseif tonumber(e) > latest then latest = tonumber(e) end
    end
  end
  if not any then redis.call('DEL', key) return end
  if forever then
    redis.call('PEXPIRE', key, ARGV[5])
  else
    redis.call('PEXPIREAT', key, latest + DAY)
  end
end

if op == 'add' then
  redis.call('HSET', key, ARGV[2], ARGV[3], ARGV[2] .. ':m', ARGV[4])
  retime()
  return 1
elseif op == 'remove' then
  local removed = redis.call('HDEL', key, ARGV[2], ARGV[2] .. ':m')
  retime()
  return removed > 0 and 1 or 0
elseif op == 'index' then
  redis.call('ZADD', key, ARGV[6], ARGV[2])
  local ttl = tonumber(ARGV[5])
  local expires = tonumber(ARGV[3])
  if expires > 0 and expires + DAY - tonumber(ARGV[6]) > ttl then ttl = expires + DAY - tonumber(ARGV[6]) end
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  return 1
end
return redis.error_reply('list_entry: unknown op ' .. tostring(op))
