-- Record an event into, and read, the features of one request (or of one hash slot
-- of it on a Redis Cluster), atomically and in one round trip.
--
-- A tiny interpreter: Python compiles the feature specs into a flat list of ops
-- (engine/features/plan.py documents each opcode), so one cached script serves every
-- rule pack. Scores are event times in ms; a window of W ms ending at t is (t-W, t].
--
-- ARGV[1] t        event time (ms, already clamped against future skew)
-- ARGV[2] now      wall clock (ms), for list expiries
-- ARGV[3] n        number of feature values
-- ARGV[4] marker   "" or "<key index>|<ttl ms>|<full|pending|outcome>|<plan fingerprint>"
-- ARGV[5]          the ops, one string, fields separated by \31 (unit separator):
--                  redis-py spends microseconds per argument, so one argument it is
-- Returns {1, stored snapshot} when the marker already exists (a replayed event),
-- else {0, json array of n values (null = missing), extra outputs...}.

local t = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local vals = {}
for i = 1, n do vals[i] = cjson.null end
local extra = {}

local mkey, mttl, mmode, mfp
if ARGV[4] ~= '' then
  local a, b, c, d = string.match(ARGV[4], '^(%d+)|(%d+)|(%a+)|(.*)$')
  mkey, mttl, mmode, mfp = KEYS[tonumber(a)], b, c, d
  local prev = redis.call('GET', mkey)
  if prev then return {1, prev} end
end

local chain, depth = '', 0   -- the referrer's ancestor chain, loaded by op RR
local CHAIN_CAP = 8

local function split(s)
  local out = {}
  for item in string.gmatch(s, '[^,]+') do out[#out + 1] = item end
  return out
end

local A = {}
if ARGV[5] ~= '' then
  local start = 1
  while true do
    local pos = string.find(ARGV[5], '\31', start, true)
    if not pos then A[#A + 1] = string.sub(ARGV[5], start) break end
    A[#A + 1] = string.sub(ARGV[5], start, pos - 1)
    start = pos + 1
  end
end

local i = 1
local last = #A
while i <= last do
  local op = A[i]
  if op == 'ZA' then          -- key flag member ttl trim: add the event to a window set
    local key = KEYS[tonumber(A[i + 1])]
    if A[i + 2] == 'GT' then
      redis.call('ZADD', key, 'GT', t, A[i + 3])
    else
      redis.call('ZADD', key, t, A[i + 3])
    end
    if A[i + 5] ~= '' then redis.call('ZREMRANGEBYSCORE', key, '-inf', A[i + 5]) end
    redis.call('PEXPIRE', key, A[i + 4])
    i = i + 6
  elseif op == 'ZC' then      -- idx key lo hi: members scored in (lo, hi]
    vals[tonumber(A[i + 1])] = redis.call('ZCOUNT', KEYS[tonumber(A[i + 2])],
      '(' .. A[i + 3], A[i + 4])
    i = i + 5
  elseif op == 'ZS' then      -- idx key lo: sum of the amounts after the last ':' of members
    local members = redis.call('ZRANGEBYSCORE', KEYS[tonumber(A[i + 2])], '(' .. A[i + 3], t)
    local sum = 0
    for _, m in ipairs(members) do sum = sum + tonumber(string.match(m, ':([^:]*)$')) end
    vals[tonumber(A[i + 1])] = sum
    i = i + 4
  elseif op == 'PA' then      -- key element ttl: HyperLogLog bucket
    local key = KEYS[tonumber(A[i + 1])]
    redis.call('PFADD', key, A[i + 2])
    redis.call('PEXPIRE', key, A[i + 3])
    i = i + 4
  elseif op == 'PC' then      -- idx count key...: union estimate of the buckets
    local count = tonumber(A[i + 2])
    local keys = {}
    for k = 1, count do keys[k] = KEYS[tonumber(A[i + 2 + k])] end
    vals[tonumber(A[i + 1])] = redis.call('PFCOUNT', unpack(keys))
    i = i + 3 + count
  elseif op == 'SR' then      -- idx key field unit_ms: age of the first/last earlier event
    local seen = redis.call('HGET', KEYS[tonumber(A[i + 2])], A[i + 3])
    if seen then
      vals[tonumber(A[i + 1])] = math.max(0, t - tonumber(seen)) / tonumber(A[i + 4])
    end
    i = i + 5
  elseif op == 'SW' then      -- key ttl: widen [first, last] to include t
    local key = KEYS[tonumber(A[i + 1])]
    local fl = redis.call('HMGET', key, 'f', 'l')
    if not fl[1] or t < tonumber(fl[1]) then redis.call('HSET', key, 'f', t) end
    if not fl[2] or t > tonumber(fl[2]) then redis.call('HSET', key, 'l', t) end
    redis.call('PEXPIRE', key, A[i + 2])
    i = i + 3
  elseif op == 'LS' then      -- idx key kind: live list entry (expiry 0 = never)
    local expires = redis.call('HGET', KEYS[tonumber(A[i + 2])], A[i + 3])
    vals[tonumber(A[i + 1])] = expires ~= false and (expires == '0' or tonumber(expires) > now)
    i = i + 4
  elseif op == 'LK' then      -- key member ttl cap: a customer's own devices / ips
    local key = KEYS[tonumber(A[i + 1])]
    redis.call('ZADD', key, t, A[i + 2])
    redis.call('ZREMRANGEBYRANK', key, 0, -1 - tonumber(A[i + 4]))
    redis.call('PEXPIRE', key, A[i + 3])
    i = i + 5
  elseif op == 'RR' then      -- key: load the referrer's chain and depth
    local up = redis.call('HMGET', KEYS[tonumber(A[i + 1])], 'c', 'd')
    chain, depth = up[1] or '', tonumber(up[2] or '0')
    extra[#extra + 1] = chain
    extra[#extra + 1] = tostring(depth)
    i = i + 2
  elseif op == 'RD' then      -- idx: depth of the invitee under this referrer
    vals[tonumber(A[i + 1])] = depth + 1
    i = i + 2
  elseif op == 'RG' then      -- idx hops invitee referrer: the edge closes a cycle <= hops
    local hops, ring = tonumber(A[i + 2]), A[i + 3] == A[i + 4]
    for pos, ancestor in ipairs(split(chain)) do
      if ring or pos > hops - 1 then break end
      if ancestor == A[i + 3] then ring = true end
    end
    vals[tonumber(A[i + 1])] = ring
    i = i + 5
  elseif op == 'RO' then      -- links link key member ttl trim: invitee on referrer's own device/ip
    if redis.call('ZSCORE', KEYS[tonumber(A[i + 1])], A[i + 2]) then
      local key = KEYS[tonumber(A[i + 3])]
      redis.call('ZADD', key, 'GT', t, A[i + 4])
      if A[i + 6] ~= '' then redis.call('ZREMRANGEBYSCORE', key, '-inf', A[i + 6]) end
      redis.call('PEXPIRE', key, A[i + 5])
    end
    i = i + 7
  elseif op == 'RU' then      -- key referrer referrer_hash ttl chain depth: invitee's upline, first wins
    local key = KEYS[tonumber(A[i + 1])]
    if redis.call('EXISTS', key) == 0 then
      local up_chain, up_depth = A[i + 5], tonumber(A[i + 6])
      if up_chain == '~' then up_chain, up_depth = chain, depth end
      local ancestors = {A[i + 3]}
      for _, a in ipairs(split(up_chain)) do
        if #ancestors >= CHAIN_CAP then break end
        ancestors[#ancestors + 1] = a
      end
      redis.call('HSET', key, 'r', A[i + 2], 'a', t, 'c', table.concat(ancestors, ','),
        'd', up_depth + 1)
      redis.call('PEXPIRE', key, A[i + 4])
    end
    i = i + 7
  elseif op == 'PS' then      -- idx invitees paid lo within: share of invitees paid in time
    local inv = redis.call('ZRANGEBYSCORE', KEYS[tonumber(A[i + 2])], '(' .. A[i + 4], t,
      'WITHSCORES')
    if #inv > 0 then
      local names = {}
      for k = 1, #inv, 2 do names[#names + 1] = inv[k] end
      local paid_at = redis.call('HMGET', KEYS[tonumber(A[i + 3])], unpack(names))
      local within, paid = tonumber(A[i + 5]), 0
      for k, p in ipairs(paid_at) do
        if p then
          local at = tonumber(p)
          if at <= t and at - tonumber(inv[2 * k]) <= within then paid = paid + 1 end
        end
      end
      vals[tonumber(A[i + 1])] = paid / #names
    end
    i = i + 6
  elseif op == 'PU' then      -- key: who referred this customer, and when
    local up = redis.call('HMGET', KEYS[tonumber(A[i + 1])], 'r', 'a')
    extra[#extra + 1] = up[1]
    extra[#extra + 1] = up[2]
    i = i + 2
  elseif op == 'PM' then      -- key invitee ttl: the invitee's first paid order (event time)
    local key = KEYS[tonumber(A[i + 1])]
    redis.call('HSETNX', key, A[i + 2], t)
    redis.call('PEXPIRE', key, A[i + 3])
    i = i + 4
  elseif op == 'GS' then      -- idx key lo member: other members in the window sharing it
    local key = KEYS[tonumber(A[i + 2])]
    local lo = tonumber(A[i + 3])
    local count = redis.call('ZCOUNT', key, '(' .. lo, '+inf')
    local own = redis.call('ZSCORE', key, A[i + 4])
    if own and tonumber(own) > lo then count = count - 1 end
    vals[tonumber(A[i + 1])] = count
    i = i + 5
  elseif op == 'MS' then      -- key snapshot: complete a pending replay marker (cluster)
    redis.call('SET', KEYS[tonumber(A[i + 1])], A[i + 2], 'XX', 'KEEPTTL')
    i = i + 3
  else
    return redis.error_reply('yutang plan: unknown op ' .. tostring(op))
  end
end

local encoded = n > 0 and cjson.encode(vals) or '[]'
if mkey then
  local stored = 'o'
  if mmode == 'full' then stored = mfp .. '|' .. encoded elseif mmode == 'pending' then stored = '' end
  redis.call('SET', mkey, stored, 'PX', mttl)
end
local out = {0, encoded}
for k = 1, #extra do out[k + 2] = extra[k] end
return out
