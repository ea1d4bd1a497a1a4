-- Claim a request identity (an event id or an Idempotency-Key) for its first request.
-- KEYS[1]: the claim key. ARGV: the value to set when free, its ttl in ms.
-- Returns false when this call claimed it, else the value already there (one call on the
-- happy path, two on a repeat: SET NX then GET, atomically, so no expiry falls between).
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('GET', KEYS[1])
