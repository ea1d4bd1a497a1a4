-- Record an event into, and read, the features of one request (or of one hash slot
-- of it on a Redis Cluster), atomically and in one round trip.
--
-- A tiny interpreter: Python compiles the feature specs into a flat list of ops
-- (the builders beside engine/features/plan.py document each opcode), so one cached script serves every
-- rule pack. Scores are event times in ms; a window of W ms ending at t is (t-W, t].
--
-- ARGV[1] t        event time (ms, already clamped against future skew)
-- ARGV[2] now      wall clock (ms), for list expiries
-- ARGV[3] n        number of feature values
-- ARGV[4] marker   "" or "<key index>|<ttl ms>|<full|pending|outcome>|<plan fingerprint>"
-- ARGV[5]          the ops, one JSON array of strings and numbers: redis-py spends
--                  microseconds per argument, and cjson decodes an array (numbers as
--                  numbers) much faster than Lua splits a string
-- Values only handed on to Redis come as strings ready to use (TTLs, trim scores, '(<low>'
-- exclusive bounds): cjson reads strings faster than numbers, and redis.call() would
-- format numbers back into strings.
-- Every key is written (and given its TTL) by at most one op per call.
-- Returns {1, stored snapshot} when the marker already exists (a replayed event),
-- else {0, json array of n values (null = missing), extra outputs...}.

local call = redis.call
local tstr = ARGV[1]
local t = tonumber(tstr)
local now = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local null = cjson.null
local vals = {}
for i = 1, n do vals[i] = null end
local extra = {}

local mkey, mttl, mmode, mfp
if ARGV[4] ~= '' then
  local a, b, c, d = string.match(ARGV[4], '^(%d+)|(%d+)|(%a+)|(.*)$')
  mkey, mttl, mmode, mfp = KEYS[tonumber(a)], b, c, d
  local prev = call('GET', mkey)
  if prev then return {1, prev} end
end

local chain, depth = '', 0   -- the referrer's ancestor chain, loaded by op RR
local ids = ''               -- the same ancestors' customer ids (their slots), for subtree writes
local chain_paid = 0         -- op RC: paying customers up the referrer's chain, the referrer included
local CHAIN_CAP = 8
local DISTINCT_READ = 64     -- op DX: values read per distinct set (more: ZCOUNT per window)
local seen = {}              -- key index -> {first, last} of a first/last-seen hash, read once

local origin_anchors, origin_history, origin_vouched, origin_group = {}, false, false, ''  -- op OA, read by op OC
local dup = false            -- op EG: this slot has seen the event (cluster): add to no bucket
local buckets = {}           -- key index -> its bucket hash, read once (op HB)

local function split(s)
  local out = {}
  for item in string.gmatch(s, '[^,]+') do out[#out + 1] = item end
  return out
end

local function first_last(k)
  local fl = seen[k]
  if not fl then
    fl = call('HMGET', KEYS[k], 'f', 'l')
    seen[k] = fl
  end
  return fl
end

local A = ARGV[5] ~= '' and cjson.decode(ARGV[5]) or {}

-- link features (engine/features/links.py): ops LI, LF, LM, LG, LP --------------------

local link_facts = {}        -- key -> {first, last, paid} of a customer's lk:f, read once
local link_live = false      -- op LG found live peers: round 2 reads the customer's identities
local link_found = {}        -- op LG's answer (member, time, since)..., for op LR
local link_users = {}        -- op LI's answers in order (member, time)..., for op LR

local unpack_mp, pack_mp = cmsgpack.unpack, cmsgpack.pack

-- A customer's link summary `lk:s` (links.py): its lk:f facts, its `links` identities with their
-- times (the strong ones: those of the graph's prefixes) and its grants' times in one string {f, l,
-- p (0 = none), prefixes, n, member, time (n pairs, the set's order), grant time (s)...}, so op LR / LM reads every member with one MGET instead of an HMGET, a
-- ZRANGEBYSCORE and a ZCOUNT each. A copy, never the source: a call that changes a customer's lk:f or
-- `links` rewrites the copy at its end (the customer has peers: someone reads it) or deletes it, the
-- offer ledger's RECORD deletes it with each grant (engine/offers/scripts.py); a member without one
-- (or one written for other prefixes: the pack changed) is read from its keys.
local summaries = {}         -- summary key -> {ttl, prefixes}: rebuild it at the end of this call, false: delete it
local link_wrote = false     -- op LR wrote new links: the customer has peers

local function summary_of(key, suffix)
  return string.sub(key, 1, #key - #suffix) .. ':lk:s'
end

local function touch_summary(key, suffix, how)
  local skey = summary_of(key, suffix)
  if how then summaries[skey] = how elseif summaries[skey] == nil then summaries[skey] = false end
end

local function link_member_facts(key)
  local fx = link_facts[key]
  if not fx then
    fx = call('HMGET', key, 'f', 'l', 'p')
    link_facts[key] = fx
  end
  return tonumber(fx[1]), tonumber(fx[2]), tonumber(fx[3])
end

-- The linked group's aggregates over `members` ({facts key, grants key, links key, at, role}, keys
-- by name, false = none), so a member's facts never leave Redis. Per spec {code, low, arg} a member
-- counts when its link time `at` > low; the reply has two numbers per spec:
--   N new (arg: within ms), R returning (within), P paid: members counted, members flagged
--   G rewards (arg: '(<low s>' of the grants): 0, the grants of the peers (role 0)
--   I identities (arg: '(<low ms>'): 0, the distinct strong identities (first character in
--     `prefixes`) the members used after low, at most `cap`: their count, or (list) them
-- role: 0 a peer, 1 the customer itself (facts, no rewards; its identities unless `skip_own` (op LG
-- found live peers, so round 2 reads them with the group's)), 2 the customer, identities only.
local function link_group(prefixes, cap, list, specs, members, skip_own)
  local nspec = #specs
  local counts, flagged, seen, sizes = {}, {}, {}, {}
  local strong = {}
  for c = 1, #prefixes do strong[string.byte(prefixes, c)] = true end
  for s = 1, nspec do counts[s], flagged[s], seen[s], sizes[s] = 0, 0, {}, 0 end
  -- the peers' summaries (lk:s, above), one MGET; a peer without one is read from its keys
  local sums, skeys, at_of = {}, {}, {}
  for m, member in ipairs(members) do
    if member[5] == 0 and member[1] then
      skeys[#skeys + 1] = summary_of(member[1], ':lk:f')
      at_of[#skeys] = m
    end
  end
  if #skeys > 0 then
    for k, raw in ipairs(call('MGET', unpack(skeys))) do
      if raw then
        local sum = unpack_mp(raw)
        if sum[4] == prefixes then sums[at_of[k]] = sum end
      end
    end
  end
  for m, member in ipairs(members) do
    local fk, gk, lk, at, role = member[1], member[2], member[3], member[4], member[5]
    local sum = sums[m]
    for s = 1, nspec do
      local code, low, arg = specs[s][1], specs[s][2], specs[s][3]
      if at > low then
        if code == 'I' then
          if sizes[s] < cap and not (role == 1 and skip_own) then
            local set = seen[s]
            if sum then  -- the summary's members in the set's order: those used after low
              for k = 6, 5 + 2 * sum[5], 2 do
                local id = sum[k]
                if sum[k + 1] > low and not set[id] and strong[string.byte(id, 1)] then
                  set[id] = true
                  sizes[s] = sizes[s] + 1
                  if sizes[s] >= cap then break end
                end
              end
            else
              for _, id in ipairs(call('ZRANGEBYSCORE', lk, arg, '+inf')) do
                if not set[id] and strong[string.byte(id, 1)] then
                  set[id] = true
                  sizes[s] = sizes[s] + 1
                  if sizes[s] >= cap then break end
                end
              end
            end
          end
        elseif code == 'G' then
          if role == 0 and sum then
            local low_s, c = low / 1000, 0
            for k = 6 + 2 * sum[5], #sum do
              if sum[k] > low_s then c = c + 1 end
            end
            flagged[s] = flagged[s] + c
          elseif role == 0 then
            flagged[s] = flagged[s] + call('ZCOUNT', gk, arg, '+inf')
          end
        elseif role ~= 2 then
          local f, l, p
          if sum then
            f, l, p = sum[1], sum[2], sum[3]
            if f == 0 then f, l = nil, nil end
            if p == 0 then p = nil end
          else
            f, l, p = link_member_facts(fk)
          end
          counts[s] = counts[s] + 1
          local yes
          if code == 'N' then
            yes = not f or t - f < arg
          elseif code == 'R' then
            yes = f ~= nil and (l or 0) - f >= arg
          else
            yes = p ~= nil and p <= t
          end
          if yes then flagged[s] = flagged[s] + 1 end
        end
      end
    end
  end
  local out = {}
  for s = 1, nspec do
    out[2 * s - 1] = counts[s]
    if specs[s][1] == 'I' then
      if list then
        local ids = {}
        for id in pairs(seen[s]) do ids[#ids + 1] = id end
        out[2 * s] = ids
      else
        out[2 * s] = sizes[s]
      end
    else
      out[2 * s] = flagged[s]
    end
  end
  return out
end

-- the entity hash (engine/features/entity_hash.py): op EH ----------------------------

-- A bucket ring {newest index, value of newest, of newest - 1, ...} (at most `ring` values,
-- no trailing zeros) with `add` put into bucket b; nil when b is older than the ring.
local function ring_add(arr, b, add, ring)
  if not arr then return {b, add} end
  local newest = arr[1]
  if b > newest then
    local new, d = {b, add}, b - newest
    if d < ring then
      for _ = 1, d - 1 do new[#new + 1] = 0 end
      for k = 2, #arr do
        if #new > ring then break end
        new[#new + 1] = arr[k]
      end
      while #new > 2 and new[#new] == 0 do new[#new] = nil end
    end
    return new
  end
  local pos = newest - b + 2
  if pos > ring + 1 then return nil end
  for k = #arr + 1, pos do arr[k] = 0 end
  arr[pos] = arr[pos] + add
  return arr
end

-- The sum of a ring's buckets lo..hi.
local function ring_sum(arr, lo, hi)
  if not arr then return 0 end
  local newest, sum = arr[1], 0
  for k = math.max(2, 2 + newest - hi), math.min(#arr, 2 + newest - lo) do sum = sum + arr[k] end
  return sum
end

-- The newest distinct values {v1, at1, v2, at2, ...} (latest sight first) with `member` seen
-- at t, those at or before `trim` dropped, at most `cap` kept; nil when nothing changed.
local function distinct_add(arr, member, trim, cap)
  local old = arr or {}
  local at = t
  for k = 1, #old, 2 do
    if old[k] == member then
      if old[k + 1] >= t then at = nil end
      break
    end
  end
  if not at and old[#old] > trim then return nil end
  local new, placed = {}, at == nil
  for k = 1, #old, 2 do
    local when = old[k + 1]
    if #new >= 2 * cap or when <= trim then break end
    if not placed and when < at then
      new[#new + 1], new[#new + 2], placed = member, at, true
      if #new >= 2 * cap then break end
    end
    if at == nil or old[k] ~= member then new[#new + 1], new[#new + 2] = old[k], when end
  end
  if not placed and #new < 2 * cap then new[#new + 1], new[#new + 2] = member, at end
  return new
end

-- The longest machine-regular run of sightings ending at the event (engine/features/cadence.py is the
-- reference, tested against this): the distinct stream's sightings {v1, at1, ...} (latest first) after
-- `low` and before t; a gap g (10 s - 10 min) back from t, then as far back as each step finds a
-- sighting g (+-max(4 s, 4% of g)) before the last one found, g then the run's mean gap so far. A run
-- counts only when it is at least half the sightings from its start to the event: a dense honest wave
-- forms runs by chance.
local function cadence(arr, low)
  local ts = {}
  for k = #arr, 2, -2 do
    local at = arr[k]
    if at > low and at < t then ts[#ts + 1] = at end
  end
  table.sort(ts)
  local best = 1
  for j = #ts, 1, -1 do
    local g = t - ts[j]
    if g > 600000 then break end
    if g >= 10000 then
      local n, cur, ci = 2, ts[j], j
      while true do
        local tol = math.max(4000, math.floor(g * 4 / 100))
        local target, pick, pi = cur - g, nil, nil
        for i = ci - 1, 1, -1 do
          local d = ts[i] - target
          if d < -tol then break end
          if d <= tol and (pick == nil or math.abs(d) < math.abs(pick - target)) then pick, pi = ts[i], i end
        end
        if not pick then break end
        n, cur, ci = n + 1, pick, pi
        g = math.floor((t - cur) / (n - 1))  -- the run's mean gap so far
      end
      if n > best and 2 * n >= #ts - ci + 2 then best = n end
    end
  end
  return best
end

-- Op EH at A[i]: key ttl count, then `count` streams flat, each its length and its items
-- (nested arrays cost cjson a table each: flat, the ops of a shipped-pack event decode in ~60% of
-- the time). Reads every stream of one entity with one HMGET, applies this event, fills the values
-- and writes what changed with one HSET; the key's TTL moves only when the expiry it was given
-- (field `_e`) is short of now + ttl, by ttl + a quantum. A stream at A[o] (its length), items
-- A[o + 1]...:
--   B field width ring add hi (idx lo)...     bucket ring (count / sum; add 0: none)
--   D field cap trim member (idx low)...      newest distinct values (member '': none; idx < 0: a cadence)
--   S field write (idx which unit)...         first (which 1) / last (2) sight
-- Returns the index of the op after it.
local function entity_hash(key, ttl, count, o)
  local fields, at = {}, {}
  for s = 1, count do
    at[s] = o
    fields[s] = A[o + 2]
    o = o + 1 + A[o]
  end
  fields[count + 1] = '_e'
  local got = call('HMGET', key, unpack(fields))
  local out = {}
  for s = 1, count do
    local b, raw = at[s], got[s]
    local last = b + A[b]
    local kind, name, arr = A[b + 1], fields[s], raw and unpack_mp(raw)
    if kind == 'B' then
      local add, hi = A[b + 5], A[b + 6]
      if add ~= 0 and not dup then
        local new = ring_add(arr, hi, add, A[b + 4])
        if new then
          arr = new
          out[#out + 1], out[#out + 2] = name, pack_mp(arr)
        end
      end
      -- up to the newest bucket: events dated after this one but stored before it count (windows.py)
      local top = arr and math.max(hi, arr[1]) or hi
      for r = b + 7, last, 2 do vals[A[r]] = ring_sum(arr, A[r + 1], top) end
    elseif kind == 'D' then
      local member = A[b + 5]
      if member ~= '' and not dup then
        local new = distinct_add(arr, member, A[b + 4], A[b + 3])
        if new then
          arr = new
          out[#out + 1], out[#out + 2] = name, pack_mp(arr)
        end
      end
      arr = arr or {}
      for r = b + 6, last, 2 do
        local low, c = A[r + 1], 0
        if A[r] < 0 then  -- a cadence (its index sent negative): the run, not the count
          vals[-A[r]] = cadence(arr, low)
        else
          for k = 2, #arr, 2 do
            if arr[k] > low then c = c + 1 else break end
          end
          vals[A[r]] = c
        end
      end
    else
      for r = b + 4, last, 3 do
        if arr then vals[A[r]] = math.max(0, t - arr[A[r + 1]]) / A[r + 2] end
      end
      if A[b + 3] == 1 and not dup then
        if not arr then
          arr = {t, t}
        elseif t < arr[1] or t > arr[2] then
          arr = {math.min(arr[1], t), math.max(arr[2], t)}
        else
          arr = nil
        end
        if arr then out[#out + 1], out[#out + 2] = name, pack_mp(arr) end
      end
    end
  end
  if #out > 0 then
    local e = tonumber(got[count + 1])
    local renew = not e or now + ttl > e
    local quantum = math.min(86400000, math.max(60000, math.floor(ttl / 8)))
    if renew then
      out[#out + 1], out[#out + 2] = '_e', string.format('%d', now + ttl + quantum)
    end
    call('HSET', key, unpack(out))
    if renew then call('PEXPIRE', key, string.format('%d', ttl + quantum)) end
  end
  return o
end

-- Renew a link key's TTL only once it has run down by `slack` ms: a PTTL read instead of a
-- PEXPIRE write (and its AOF bytes) on most events; the key still lives ttl - slack past its last use.
local LINK_DAY = 86400000
local function link_expire(key, ttl, slack)
  if call('PTTL', key) < tonumber(ttl) - slack then call('PEXPIRE', key, ttl) end
end

-- Link the customer whose keys are `peers` / `since` to `links` ({peer, link time}...): the
-- latest time wins; a new link, or one that had lapsed (time <= trim), formed at `formed`.
local function link_peers(peers, since, formed, ttl, trim, cap, links)
  local scored, fresh, names = {}, {}, {}
  for k, link in ipairs(links) do
    names[k] = link[1]
    scored[2 * k - 1] = link[2]
    scored[2 * k] = link[1]
  end
  local old = call('ZMSCORE', peers, unpack(names))
  for k = 1, #names do
    if not old[k] or (trim ~= '' and tonumber(old[k]) <= tonumber(trim)) then
      fresh[#fresh + 1] = names[k]  -- a new link, or one that had lapsed: its age starts now
      fresh[#fresh + 1] = formed
    end
  end
  if #fresh > 0 then call('HSET', since, unpack(fresh)) end
  local dropped = 0  -- peers the trims removed: their `since` entries are left behind
  if call('ZADD', peers, 'GT', unpack(scored)) > 0 then  -- the set grew: trim it
    if trim ~= '' then dropped = call('ZREMRANGEBYSCORE', peers, '-inf', trim) end
    dropped = dropped + call('ZREMRANGEBYRANK', peers, 0, -1 - cap)
  end
  -- `since` outgrows `peers` only by the entries of dropped peers (only live peers' entries are read):
  -- measured and pruned when some were dropped, not on every new link (an HLEN per side per link)
  if dropped > 0 and call('HLEN', since) > 4 * cap then
    for _, f in ipairs(call('HKEYS', since)) do
      if not call('ZSCORE', peers, f) then call('HDEL', since, f) end
    end
  end
  link_expire(peers, ttl, LINK_DAY)
  link_expire(since, ttl, LINK_DAY)
end

-- Op LR at A[i] (one server only: the peers' keys are built here from `cpre`, the customer tag
-- without its member id and closing brace, so they are not in KEYS): round 2 of links.py in this
-- same call. From op LG's peers and op LI's users (`kinds`: S strong / W weak per LI, in order),
-- exactly as links.observe: the new links, written on both sides; then op LM's aggregates over
-- the customer (role 1) and its newest `fcap` members by link time.
local function link_round(i)
  local record, read, me, cpre, fanout, kinds = A[i + 1] == 1, A[i + 2] == 1, A[i + 3], A[i + 4], A[i + 5], A[i + 6]
  local ttl, trim, gcap, fcap = A[i + 7], A[i + 8], A[i + 9], A[i + 10]
  local prefixes, cap, nspec = A[i + 11], A[i + 12], A[i + 13]
  local specs = {}
  for s = 1, nspec do
    local c = i + 13 + 3 * (s - 1)
    specs[s] = {A[c + 1], A[c + 2], A[c + 3]}
  end
  local peers, new, weak = {}, {}, {}
  for k = 1, #link_found, 3 do
    peers[link_found[k]] = {tonumber(link_found[k + 1]), tonumber(link_found[k + 2])}
  end
  for j, users in ipairs(link_users) do
    if #users <= 2 * fanout then  -- else a hub: it links nobody
      local target = string.sub(kinds, j, j) == 'S' and new or weak
      for k = 1, #users - 1, 2 do
        local m = users[k]
        if m ~= me then
          local at = tonumber(users[k + 1])
          if at > (target[m] or 0) then target[m] = at end
        end
      end
    end
  end
  local writes = {}
  for m, at in pairs(new) do
    local old = peers[m]
    if not old or old[1] < at then writes[#writes + 1] = {m, string.format('%d', at)} end
    peers[m] = old and {math.max(old[1], at), old[2]} or {at, t}
  end
  if record and #writes > 0 then
    link_wrote = true
    link_peers(cpre .. me .. '}:lk:peers', cpre .. me .. '}:lk:since', tstr, ttl, trim, gcap, writes)
    for _, w in ipairs(writes) do
      link_peers(cpre .. w[1] .. '}:lk:peers', cpre .. w[1] .. '}:lk:since', tstr, ttl, trim, gcap, {{me, w[2]}})
    end
  end
  if not read or nspec == 0 then return {} end
  local times = {}
  for m, p in pairs(peers) do times[m] = p[1] end
  for m, at in pairs(weak) do
    if at > (times[m] or 0) then times[m] = at end
  end
  local order = {}
  for m, at in pairs(times) do order[#order + 1] = {m, at} end
  if #order > math.min(gcap, fcap) then  -- else every member counts, and the aggregates ignore order
    table.sort(order, function(a, b)
      if a[2] ~= b[2] then return a[2] > b[2] end
      return a[1] < b[1]
    end)
  end
  local own = cpre .. me .. '}'
  local members = {{own .. ':lk:f', false, own .. ':links', t, 1}}
  for k = 1, math.min(#order, gcap, fcap) do
    local tag = cpre .. order[k][1] .. '}'
    members[#members + 1] = {tag .. ':lk:f', tag .. ':of:grants', tag .. ':links', order[k][2], 0}
  end
  return link_group(prefixes, cap, false, specs, members, false)
end

local i = 1
local last = #A
while i <= last do
  local op = A[i]
  if op == 'ZA' then          -- key flag member ttl trim: add the event to a window set
    local key = KEYS[A[i + 1]]
    if A[i + 2] == 'GT' then
      call('ZADD', key, 'GT', tstr, A[i + 3])
    else
      call('ZADD', key, tstr, A[i + 3])
    end
    if A[i + 5] ~= '' then call('ZREMRANGEBYSCORE', key, '-inf', A[i + 5]) end
    call('PEXPIRE', key, A[i + 4])
    i = i + 6
  elseif op == 'HI' or op == 'HF' then  -- key bucket incr ttl stale: add to a sub-window bucket
    if not dup then
      local key, bucket = KEYS[A[i + 1]], A[i + 2]
      local fresh
      if op == 'HI' then
        fresh = call('HINCRBY', key, bucket, 1) == 1
      else
        fresh = tonumber(call('HINCRBYFLOAT', key, bucket, A[i + 3])) == tonumber(A[i + 3])
      end
      if fresh then           -- a new bucket: renew the TTL
        call('PEXPIRE', key, A[i + 4])
      end
      if fresh and tonumber(bucket) % 8 == 0 then  -- every 8th bucket: drop those older than any window
        local stale, old = tonumber(A[i + 5]), {}
        for _, f in ipairs(call('HKEYS', key)) do
          if tonumber(f) <= stale then old[#old + 1] = f end
        end
        if #old > 0 then call('HDEL', key, unpack(old)) end
      end
    end
    i = i + 6
  elseif op == 'HB' then      -- idx key lo hi: sum of the buckets lo..hi
    local k = A[i + 2]
    local flat = buckets[k]
    if not flat then
      flat = call('HGETALL', KEYS[k])
      buckets[k] = flat
    end
    local lo, hi, sum = A[i + 3], A[i + 4], 0
    for j = 1, #flat, 2 do
      local b = tonumber(flat[j])
      if b >= lo and b <= hi then sum = sum + tonumber(flat[j + 1]) end
    end
    vals[A[i + 1]] = sum
    i = i + 5
  elseif op == 'EH' then      -- key ttl count (length stream...)...: every window stream of one entity (above)
    i = entity_hash(KEYS[A[i + 1]], A[i + 2], A[i + 3], i + 4)
  elseif op == 'EG' then      -- key ttl: this slot's marker of the event (cluster)
    if not call('SET', KEYS[A[i + 1]], '1', 'NX', 'PX', A[i + 2]) then dup = true end
    i = i + 3
  elseif op == 'DX' then      -- key member ttl trim quantum widest count (idx lo)...: a distinct set, one read
    -- Reads the values seen after `widest` (the plan's longest window on the set), newest
    -- first, at most DISTINCT_READ of them, and counts every window from that (the current
    -- value once, whatever its old score); a window the capped read may not cover is
    -- counted by ZCOUNT after the write. The TTL moves only when the event starts a new
    -- quantum past the set's newest value (or the set has none in the window): the expiry
    -- then covers newest + window while the TTL's slack >= quantum + future skew.
    local key, member, count = KEYS[A[i + 1]], A[i + 2], A[i + 7]
    local got = call('ZREVRANGEBYSCORE', key, '+inf', string.format('(%d', A[i + 6]),
      'WITHSCORES', 'LIMIT', 0, DISTINCT_READ)
    local newest = got[2] and tonumber(got[2])
    local own = false
    if member ~= '' then
      for j = 1, #got, 2 do if got[j] == member then own = tonumber(got[j + 1]) break end end
      call('ZADD', key, 'GT', tstr, member)
      if A[i + 4] ~= '' then call('ZREMRANGEBYSCORE', key, '-inf', A[i + 4]) end
      local quantum = A[i + 5]
      if not newest or math.floor(t / quantum) > math.floor(newest / quantum) then
        call('PEXPIRE', key, A[i + 3])
      end
    end
    local capped = #got >= 2 * DISTINCT_READ
    for k = 1, count do
      local lo = A[i + 7 + 2 * k]
      if capped and tonumber(got[#got]) > lo then
        vals[A[i + 6 + 2 * k]] = call('ZCOUNT', key, string.format('(%d', lo), '+inf')
      else
        local c = 0
        for j = 2, #got, 2 do
          if tonumber(got[j]) > lo then c = c + 1 else break end
        end
        if member ~= '' and not (own and own > lo) then c = c + 1 end
        vals[A[i + 6 + 2 * k]] = c
      end
    end
    i = i + 8 + 2 * count
  elseif op == 'ZC' then      -- idx key (lo hi: members scored in (lo, hi]
    vals[A[i + 1]] = call('ZCOUNT', KEYS[A[i + 2]], A[i + 3], A[i + 4])
    i = i + 5
  elseif op == 'LS' then      -- key count (idx kind)...: live list entries (expiry 0 = never)
    local count = A[i + 2]
    local kinds = {}
    for k = 1, count do kinds[k] = A[i + 2 + 2 * k] end
    local expiries = call('HMGET', KEYS[A[i + 1]], unpack(kinds))
    for k = 1, count do
      local expires = expiries[k]
      vals[A[i + 1 + 2 * k]] = expires ~= false and (expires == '0' or tonumber(expires) > now)
    end
    i = i + 3 + 2 * count
  elseif op == 'SR' then      -- idx key field unit_ms: age of the first/last earlier event
    local fl = first_last(A[i + 2])
    local at = fl[A[i + 3] == 'f' and 1 or 2]
    if at then
      vals[A[i + 1]] = math.max(0, t - tonumber(at)) / A[i + 4]
    end
    i = i + 5
  elseif op == 'ZS' then      -- idx key (lo: sum of the amounts after the last ':' of members
    local members = call('ZRANGEBYSCORE', KEYS[A[i + 2]], A[i + 3], '+inf')  -- dated later, stored before: counted
    local sum = 0
    for _, m in ipairs(members) do sum = sum + tonumber(string.match(m, ':([^:]*)$')) end
    vals[A[i + 1]] = sum
    i = i + 4
  elseif op == 'SW' then      -- key ttl quantum: widen [first, last] to include t
    -- the TTL (history + quantum) moves only when t starts a new quantum past the last
    -- time: the key then lives at least history past its last event, one PEXPIRE a day
    local k = A[i + 1]
    local key = KEYS[k]
    local fl = first_last(k)
    local quantum = A[i + 3]
    local renew = not fl[2] or math.floor(t / quantum) > math.floor(tonumber(fl[2]) / quantum)
    local first = not fl[1] or t < tonumber(fl[1])
    local latest = not fl[2] or t > tonumber(fl[2])
    if first and latest then
      call('HSET', key, 'f', tstr, 'l', tstr)
    elseif first then
      call('HSET', key, 'f', tstr)
    elseif latest then
      call('HSET', key, 'l', tstr)
    end
    if renew then call('PEXPIRE', key, A[i + 2]) end
    i = i + 4
  elseif op == 'LK' then      -- key ttl cap count member...: a customer's own devices / ips (or memberships)
    -- the TTL (the history's) is renewed when something new arrived (a new key among them), else once
    -- it has run down by a day (link_expire): a PTTL read, not a PEXPIRE write and its AOF bytes
    local key, count = KEYS[A[i + 1]], A[i + 4]
    if count > 0 and string.sub(key, -6) == ':links' then touch_summary(key, ':links', false) end
    if count > 0 then
      local args = {}
      for k = 1, count do
        args[2 * k - 1] = tstr
        args[2 * k] = A[i + 4 + k]
      end
      -- members share the score t, so adding them together and trimming once keeps
      -- the same newest `cap` as one by one; nothing new added: nothing to trim
      if call('ZADD', key, unpack(args)) > 0 then
        call('ZREMRANGEBYRANK', key, 0, -1 - A[i + 3])
        call('PEXPIRE', key, A[i + 2])
      else
        link_expire(key, A[i + 2], LINK_DAY)
      end
    end
    i = i + 5 + count
  elseif op == 'PA' then      -- key element ttl: HyperLogLog bucket
    local key = KEYS[A[i + 1]]
    call('PFADD', key, A[i + 2])
    call('PEXPIRE', key, A[i + 3])
    i = i + 4
  elseif op == 'PC' then      -- idx count key...: union estimate of the buckets
    local count = tonumber(A[i + 2])
    local keys = {}
    for k = 1, count do keys[k] = KEYS[A[i + 2 + k]] end
    vals[A[i + 1]] = call('PFCOUNT', unpack(keys))
    i = i + 3 + count
  elseif op == 'RR' then      -- key: load the referrer's chain, depth and ancestors' ids
    local up = call('HMGET', KEYS[A[i + 1]], 'c', 'd', 'i')
    chain, depth, ids = up[1] or '', tonumber(up[2] or '0'), up[3] or ''
    extra[#extra + 1] = chain
    extra[#extra + 1] = tostring(depth)
    extra[#extra + 1] = ids
    i = i + 2
  elseif op == 'RD' then      -- idx: depth of the invitee under this referrer
    vals[A[i + 1]] = depth + 1
    i = i + 2
  elseif op == 'RG' then      -- idx hops invitee referrer: the edge closes a cycle <= hops
    local hops, ring = A[i + 2], A[i + 3] == A[i + 4]
    for pos, ancestor in ipairs(split(chain)) do
      if ring or pos > hops - 1 then break end
      if ancestor == A[i + 3] then ring = true end
    end
    vals[A[i + 1]] = ring
    i = i + 5
  elseif op == 'RO' then      -- links link key member ttl trim: invitee on referrer's own device/ip
    if call('ZSCORE', KEYS[A[i + 1]], A[i + 2]) then
      local key = KEYS[A[i + 3]]
      call('ZADD', key, 'GT', tstr, A[i + 4])
      if A[i + 6] ~= '' then call('ZREMRANGEBYSCORE', key, '-inf', A[i + 6]) end
      call('PEXPIRE', key, A[i + 5])
    end
    i = i + 7
  elseif op == 'UF' then      -- idx key field: a field of the event customer's own upline (0 when none)
    vals[A[i + 1]] = tonumber(call('HGET', KEYS[A[i + 2]], A[i + 3]) or '0')
    i = i + 4
  elseif op == 'RC' then      -- idx up me: paying customers up the chain (the referrer's mark + its upline's k)
    chain_paid = tonumber(call('HGET', KEYS[A[i + 2]], 'k') or '0') + call('HEXISTS', KEYS[A[i + 3]], 'p')
    if A[i + 1] > 0 then vals[A[i + 1]] = chain_paid end
    extra[#extra + 1] = tostring(chain_paid)
    i = i + 4
  elseif op == 'RU' then      -- key referrer referrer_hash ttl chain depth ids k: invitee's upline, first wins
    local key = KEYS[A[i + 1]]
    if call('EXISTS', key) == 0 then
      local up_chain, up_depth, up_ids, up_k = A[i + 5], tonumber(A[i + 6]), A[i + 7], tonumber(A[i + 8])
      if up_chain == '~' then up_chain, up_depth, up_ids, up_k = chain, depth, ids, chain_paid end
      local ancestors, names = {A[i + 3]}, {A[i + 2]}
      for _, a in ipairs(split(up_chain)) do
        if #ancestors >= CHAIN_CAP then break end
        ancestors[#ancestors + 1] = a
      end
      for _, a in ipairs(split(up_ids)) do
        if #names >= CHAIN_CAP then break end
        names[#names + 1] = a
      end
      call('HSET', key, 'r', A[i + 2], 'a', tstr, 'c', table.concat(ancestors, ','),
        'd', up_depth + 1, 'i', table.concat(names, ','), 'k', up_k)
      call('PEXPIRE', key, A[i + 4])
    end
    i = i + 9
  elseif op == 'PS' then      -- idx invitees paid void (lo hi within count_idx: share of invitees paid in time
    -- invitees referred in (lo, hi]; count_idx > 0 also receives how many there are (an
    -- `invitees` feature over the same set, for free instead of its own ZCOUNT); void (0: none)
    -- holds invitees whose payments were all refunded: unpaid from that time on
    local inv = call('ZRANGEBYSCORE', KEYS[A[i + 2]], A[i + 5], A[i + 6], 'WITHSCORES')
    if A[i + 8] > 0 then vals[A[i + 8]] = #inv / 2 end
    if #inv > 0 then
      local names = {}
      for k = 1, #inv, 2 do names[#names + 1] = inv[k] end
      local paid_at = call('HMGET', KEYS[A[i + 3]], unpack(names))
      local void_at = {}
      if A[i + 4] > 0 then void_at = call('HMGET', KEYS[A[i + 4]], unpack(names)) end
      local within, paid = A[i + 7], 0
      for k, p in ipairs(paid_at) do
        local v = void_at[k]
        if p and not (v and tonumber(v) <= t) then
          local at = tonumber(p)
          if at <= t and at - tonumber(inv[2 * k]) <= within then paid = paid + 1 end
        end
      end
      vals[A[i + 1]] = paid / #names
    end
    i = i + 9
  elseif op == 'PU' then      -- key: who referred this customer, when, and the ids of its upline
    local up = call('HMGET', KEYS[A[i + 1]], 'r', 'a', 'i')
    extra[#extra + 1] = up[1]
    extra[#extra + 1] = up[2]
    extra[#extra + 1] = up[3]
    i = i + 2
  elseif op == 'TD' then      -- key depth ttl: a referral tree's deepest level below its root
    local key = KEYS[A[i + 1]]
    local d = call('HGET', key, 'd')
    if not d or tonumber(d) < A[i + 2] then call('HSET', key, 'd', A[i + 2]) end
    call('PEXPIRE', key, A[i + 3])
    i = i + 4
  elseif op == 'RF' then      -- idx key: whether the referrer itself ever paid (its rg:me mark)
    vals[A[i + 1]] = call('HEXISTS', KEYS[A[i + 2]], 'p')
    i = i + 3
  elseif op == 'PF' then      -- key ttl: the payer's own first paid order (event time)
    call('HSETNX', KEYS[A[i + 1]], 'p', tstr)
    call('PEXPIRE', KEYS[A[i + 1]], A[i + 2])
    i = i + 3
  elseif op == 'PN' then      -- key amount ttl: a paid order's amount onto the payer's net paid ('n', referrer_paid.py)
    local key = KEYS[A[i + 1]]
    call('HINCRBYFLOAT', key, 'n', A[i + 2])
    if call('PTTL', key) < 0 then call('PEXPIRE', key, A[i + 3]) end
    i = i + 4
  elseif op == 'PV' then      -- own me lkf amount: a refund ('' = all); once it takes back all that was paid, the marks go
    -- me: the chain's own mark (rg:me p), lkf: the links' first paid order (lk:f p); 0 when the plan has none
    -- extra output: '1' when nothing paid is left (the referrer's step 2 voids the payer), else '0'
    local own, void = KEYS[A[i + 1]], '0'
    if call('EXISTS', own) == 1 then
      local left = 0
      if A[i + 4] ~= '' then left = tonumber(call('HINCRBYFLOAT', own, 'n', '-' .. A[i + 4])) end
      if left < 0.005 then
        call('HSET', own, 'n', '0')
        call('HDEL', own, 'f', 'l')
        seen[A[i + 1]] = nil
        for k = 2, 3 do
          if A[i + k] > 0 then call('HDEL', KEYS[A[i + k]], 'p') end
        end
        if A[i + 3] > 0 then
          link_facts[KEYS[A[i + 3]]] = nil
          touch_summary(KEYS[A[i + 3]], ':lk:f', false)
        end
        void = '1'
      end
    end
    extra[#extra + 1] = void
    i = i + 5
  elseif op == 'TR' then      -- idx key: that level (0: nobody below)
    vals[A[i + 1]] = tonumber(call('HGET', KEYS[A[i + 2]], 'd') or '0')
    i = i + 3
  elseif op == 'ZR' then      -- idx num den lo hi: share of den's members in (lo, hi] that num has too
    local den = call('ZCOUNT', KEYS[A[i + 3]], A[i + 4], A[i + 5])
    if den > 0 then vals[A[i + 1]] = call('ZCOUNT', KEYS[A[i + 2]], A[i + 4], A[i + 5]) / den end
    i = i + 6
  elseif op == 'PM' then      -- key invitee ttl void: the invitee's first paid order (event time)
    local key = KEYS[A[i + 1]]
    call('HSETNX', key, A[i + 2], tstr)
    call('PEXPIRE', key, A[i + 3])
    if A[i + 4] > 0 then call('HDEL', KEYS[A[i + 4]], A[i + 2]) end  -- paying again: no longer all refunded
    i = i + 5
  elseif op == 'UP' then      -- own key ttl: note a referral through a referrer that never paid (own 0: it did not)
    -- own: the referrer's rg:own (same script), or 0 when phase 1 already found it unpaid (cluster);
    -- key: the customer's rg:uref, first and latest such referral (referrer_paid.py)
    if A[i + 1] == 0 or not call('HGET', KEYS[A[i + 1]], 'l') then
      local key = KEYS[A[i + 2]]
      call('HSETNX', key, 'f', tstr)
      call('HSET', key, 'l', tstr)
      call('PEXPIRE', key, A[i + 3])
    end
    i = i + 4
  elseif op == 'RP' then      -- key: the referrer's latest paid order, as an extra output ('' = never)
    extra[#extra + 1] = call('HGET', KEYS[A[i + 1]], 'l') or ''
    i = i + 2
  elseif op == 'RK' then      -- idx share inv paid rfd (lo hi within cap: invitees refunded within `within` of paying
    -- over the newest `cap` invitees referred in (lo, hi]: how many (share 0), or their share
    -- of those who paid by now (share 1; missing when none did); referral_refunds.py
    local inv = call('ZREVRANGEBYSCORE', KEYS[A[i + 3]], A[i + 7], A[i + 6], 'LIMIT', 0, A[i + 9])
    local paying, refunded = 0, 0
    if #inv > 0 then
      local paid_at = call('HMGET', KEYS[A[i + 4]], unpack(inv))
      local rfd, within = KEYS[A[i + 5]], A[i + 8]
      for k, p in ipairs(paid_at) do
        local at = p and tonumber(p)
        if at and at <= t then
          paying = paying + 1
          local r = call('ZSCORE', rfd, inv[k])
          if r and tonumber(r) <= t and tonumber(r) - at <= within then refunded = refunded + 1 end
        end
      end
    end
    if A[i + 2] == 0 then
      vals[A[i + 1]] = refunded
    elseif paying > 0 then
      vals[A[i + 1]] = refunded / paying
    end
    i = i + 10
  elseif op == 'RM' then      -- paid rfd invitee ttl keep void: a refund of an invitee this slot saw pay
    -- void > 0: the refund took back all the invitee had paid (step 1's PV): unpaid for paid_share
    local p = call('HGET', KEYS[A[i + 1]], A[i + 3])
    if p and tonumber(p) <= t then
      local key = KEYS[A[i + 2]]
      if call('ZADD', key, 'NX', tstr, A[i + 3]) == 1 then
        call('ZREMRANGEBYRANK', key, 0, -1 - A[i + 5])
      end
      call('PEXPIRE', key, A[i + 4])
      if A[i + 6] > 0 then
        call('HSET', KEYS[A[i + 6]], A[i + 3], tstr)
        call('PEXPIRE', KEYS[A[i + 6]], A[i + 4])
      end
    end
    i = i + 7
  elseif op == 'GS' then      -- idx key lo member: other members in the window sharing it
    local key = KEYS[A[i + 2]]
    local lo = A[i + 3]
    local count = call('ZCOUNT', key, '(' .. lo, '+inf')
    local own = call('ZSCORE', key, A[i + 4])
    if own and tonumber(own) > lo then count = count - 1 end
    vals[A[i + 1]] = count
    i = i + 5
  elseif op == 'LI' then      -- key record member ttl trim lo limit: an identity's customers (links.py)
    local key = KEYS[A[i + 1]]
    local added = false
    if A[i + 2] == 1 then
      -- the set grows only by a new user: trim it then (reads skip the stale ones anyway)
      added = call('ZADD', key, 'GT', tstr, A[i + 3]) == 1
      if added and A[i + 5] ~= '' then call('ZREMRANGEBYSCORE', key, '-inf', A[i + 5]) end
    end
    -- at most `limit` (fan-out + 1) users in (lo, +inf]: that many means a hub
    local users = call('ZRANGEBYSCORE', key, A[i + 6], '+inf', 'WITHSCORES', 'LIMIT', 0, A[i + 7])
    if added and #users == 2 then
      call('PEXPIRE', key, A[i + 4])  -- a new key (or one whose users all left the window): no PTTL to read
    elseif A[i + 2] == 1 then
      -- renewed once half the TTL's slack past the window has run: kept at least the window past its last use
      local slack = math.floor((tonumber(A[i + 4]) - (t - tonumber(string.sub(A[i + 6], 2)))) / 2)
      link_expire(key, A[i + 4], math.max(slack, 0))
    end
    link_users[#link_users + 1] = users
    extra[#extra + 1] = users
    i = i + 8
  elseif op == 'LF' then      -- key paid ttl prefixes: the customer's first / last sight and first paid order
    local k = A[i + 1]
    local key = KEYS[k]
    local fl = call('HMGET', key, 'f', 'l', 'p', 's')
    local f, l, p = fl[1], fl[2], fl[3]
    local fresh = not f
    if fresh then
      call('HSET', key, 'f', tstr, 'l', tstr)
      f, l = tstr, tstr
    elseif tonumber(l) < t then
      call('HSET', key, 'l', tstr)
      l = tstr
    end
    if A[i + 2] == 1 and not p then
      call('HSET', key, 'p', tstr)
      p = tstr
    end
    if fresh then call('PEXPIRE', key, A[i + 3]) else link_expire(key, A[i + 3], LINK_DAY) end  -- a new key: no PTTL
    link_facts[key] = {f, l, p}  -- what op LM reads next in this call
    touch_summary(key, ':lk:f', {A[i + 3], A[i + 4], fl[4] ~= false})  -- lk:f's `s`: a summary was written
    i = i + 5
  elseif op == 'LM' then      -- prefixes cap list nspec (code low arg)... nmem (facts grants links at role)...
    local nspec, specs, members = A[i + 4], {}, {}
    for s = 1, nspec do
      local c = i + 4 + 3 * (s - 1)
      specs[s] = {A[c + 1], A[c + 2], A[c + 3]}
    end
    local m0 = i + 5 + 3 * nspec
    for m = 1, A[m0] do
      local b = m0 + 5 * (m - 1)
      members[m] = {KEYS[A[b + 1]] or false, KEYS[A[b + 2]] or false, KEYS[A[b + 3]], A[b + 4], A[b + 5]}
    end
    extra[#extra + 1] = link_group(A[i + 1], A[i + 2], A[i + 3] == 1, specs, members, link_live)
    i = i + 6 + 3 * nspec + 5 * A[m0]
  elseif op == 'LR' then      -- record read me cpre fanout kinds ttl trim gcap fcap prefixes cap nspec (code low arg)...
    extra[#extra + 1] = link_round(i)
    i = i + 14 + 3 * A[i + 13]
  elseif op == 'LG' then      -- peers since lo: linked customers in (lo, +inf], flat (member, time, since)
    local found = call('ZRANGEBYSCORE', KEYS[A[i + 1]], A[i + 3], '+inf', 'WITHSCORES')
    link_live = #found > 0
    local out = {}
    if #found > 0 then
      local names = {}
      for k = 1, #found, 2 do names[#names + 1] = found[k] end
      local since = call('HMGET', KEYS[A[i + 2]], unpack(names))
      for k = 1, #names do
        out[#out + 1] = names[k]
        out[#out + 1] = found[2 * k]
        out[#out + 1] = since[k] or found[2 * k]
      end
    end
    link_found = out
    extra[#extra + 1] = out
    i = i + 4
  elseif op == 'LP' then      -- peers since formed ttl trim cap n (member at)...: link peers (latest time wins)
    local n, links = A[i + 7], {}
    for k = 1, n do links[k] = {A[i + 6 + 2 * k], A[i + 7 + 2 * k]} end
    link_peers(KEYS[A[i + 1]], KEYS[A[i + 2]], A[i + 3], A[i + 4], A[i + 5], A[i + 6], links)
    i = i + 8 + 2 * n
  elseif op == 'OA' then      -- aff up peers lkf low cap before me group extra: a redeemer's anchors (code_origin.py)
    local anchors, vouched = {'u:' .. A[i + 8]}, false
    local up = call('HGET', KEYS[A[i + 2]], 'r')
    if up then
      anchors[#anchors + 1] = 'u:' .. up
      vouched = true
    end
    for _, m in ipairs(call('ZRANGE', KEYS[A[i + 1]], 0, -1)) do
      if string.sub(m, 1, 2) == 'g:' then
        anchors[#anchors + 1] = m
        vouched = true
      end
    end
    for _, m in ipairs(call('ZREVRANGEBYSCORE', KEYS[A[i + 3]], '+inf', A[i + 5], 'LIMIT', 0, A[i + 6])) do
      anchors[#anchors + 1] = 'u:' .. m
      vouched = true
    end
    origin_group = A[i + 9]   -- the event's group: ties and anchors when the origin holds it, never teaches
    local fp = call('HMGET', KEYS[A[i + 4]], 'f', 'p')
    origin_history = (fp[1] and tonumber(fp[1]) <= A[i + 7]) or (fp[2] and true) or false
    origin_anchors, origin_vouched = anchors, vouched
    if A[i + 10] == 1 then
      extra[#extra + 1] = (origin_history and 'H' or '-') .. (vouched and 'V' or '-') .. table.concat(anchors, ' ')
    end
    i = i + 11
  elseif op == 'OC' then      -- tied members key low ttl cap record fused anchored strangers skey slow sttl scap: a code's learned origin (code_origin.py)
    local key = KEYS[A[i + 3]]
    local found = call('ZRANGEBYSCORE', key, A[i + 4], '+inf')
    local strangers = 0
    if A[i + 10] > 0 then strangers = call('ZCOUNT', KEYS[A[i + 11]], A[i + 12], '+inf') end
    if A[i + 8] == 1 then     -- one server: op OA ran before in this call
      local have, teachers, tied, anchored = {}, 0, origin_history, false
      for _, m in ipairs(found) do
        have[m] = true
        if string.sub(m, 1, 2) == 't:' then teachers = teachers + 1 end
      end
      for k, a in ipairs(origin_anchors) do
        if have[a] then
          tied = true
          if k > 1 then anchored = true end  -- not its own u: (its claim taught it)
        end
      end
      local grouped = origin_group ~= '' and have[origin_group] == true
      if grouped then anchored = true end
      if A[i + 1] > 0 then vals[A[i + 1]] = tied or grouped end  -- the event's group ties, never teaches
      if A[i + 2] > 0 then vals[A[i + 2]] = teachers end
      if A[i + 9] > 0 then vals[A[i + 9]] = anchored end
      if A[i + 10] > 0 then vals[A[i + 10]] = strangers end
      if A[i + 7] == 1 and (tied or origin_vouched) then
        local args = {}
        for _, a in ipairs(origin_anchors) do
          args[#args + 1] = tstr
          args[#args + 1] = a
        end
        if origin_group ~= '' then
          args[#args + 1] = tstr
          args[#args + 1] = origin_group
        end
        args[#args + 1] = tstr
        args[#args + 1] = 't:' .. string.sub(origin_anchors[1], 3)
        call('ZADD', key, unpack(args))
        call('ZREMRANGEBYRANK', key, 0, -1 - A[i + 6])
        call('PEXPIRE', key, A[i + 5])
      elseif A[i + 7] == 1 and A[i + 10] > 0 and not grouped then  -- a stranger: remembered, taught nothing
        local skey = KEYS[A[i + 11]]
        call('ZADD', skey, tstr, origin_anchors[1])
        call('ZREMRANGEBYRANK', skey, 0, -1 - A[i + 14])
        call('PEXPIRE', skey, A[i + 13])
      end
    else                      -- a cluster: the worker decides (code_origin.settle), phase 2 teaches (op OW)
      extra[#extra + 1] = found
      extra[#extra + 1] = strangers
    end
    i = i + 15
  elseif op == 'OW' then      -- key ttl cap n token...: teach a code's origin (cluster, phase 2)
    local key, n, args = KEYS[A[i + 1]], A[i + 4], {}
    for k = 1, n do
      args[2 * k - 1] = tstr
      args[2 * k] = A[i + 4 + k]
    end
    call('ZADD', key, unpack(args))
    call('ZREMRANGEBYRANK', key, 0, -1 - A[i + 3])
    call('PEXPIRE', key, A[i + 2])
    i = i + 5 + n
  elseif op == 'ZM' then      -- idx key member: outside ('' = no binding: inside)
    vals[A[i + 1]] = A[i + 3] ~= '' and call('ZSCORE', KEYS[A[i + 2]], A[i + 3]) == false
    i = i + 4
  elseif op == 'ZD' then      -- key member: remove one member (a customer left a group)
    call('ZREM', KEYS[A[i + 1]], A[i + 2])
    i = i + 3
  elseif op == 'MS' then      -- key snapshot: complete a pending replay marker (cluster)
    call('SET', KEYS[A[i + 1]], A[i + 2], 'XX', 'KEEPTTL')
    i = i + 3
  else
    return redis.error_reply('yutang plan: unknown op ' .. tostring(op))
  end
end

-- the link summaries this call's writes changed: rebuilt when the customer has peers, else deleted
-- (unless op LF found no `s` in its lk:f: none was ever written). A copy expires 2 days before the
-- lk:f it copies can (link_expire renews that one a day short of its TTL at most).
for skey, how in pairs(summaries) do
  local base = string.sub(skey, 1, #skey - 5)
  if how and (link_live or link_wrote) then
    local strong = {}
    for c = 1, #how[2] do strong[string.byte(how[2], c)] = true end
    local lf = base .. ':lk:f'
    local fx = link_facts[lf] or call('HMGET', lf, 'f', 'l', 'p')
    local ids = call('ZRANGE', base .. ':links', 0, -1, 'WITHSCORES')
    local out = {tonumber(fx[1]) or 0, tonumber(fx[2]) or 0, tonumber(fx[3]) or 0, how[2], 0}
    for k = 1, #ids, 2 do
      if strong[string.byte(ids[k], 1)] then
        out[#out + 1], out[#out + 2] = ids[k], tonumber(ids[k + 1])
        out[5] = out[5] + 1
      end
    end
    -- the grants: the old copy's while it lives (each grant deletes it), else read once
    local old = call('GET', skey)
    if old then
      old = unpack_mp(old)
      for k = 6 + 2 * old[5], #old do out[#out + 1] = old[k] end
    else
      local grants = call('ZRANGE', base .. ':of:grants', 0, -1, 'WITHSCORES')
      for k = 2, #grants, 2 do out[#out + 1] = tonumber(grants[k]) end
    end
    local ttl = tonumber(how[1])
    call('SET', skey, pack_mp(out), 'PX', string.format('%d', math.max(ttl / 2, ttl - 2 * LINK_DAY)))
    if not how[3] then call('HSET', lf, 's', '1') end
  elseif not (how and not how[3]) then
    call('DEL', skey)
  end
end

local encoded = n > 0 and cjson.encode(vals) or '[]'
if mkey then
  local stored = 'o'
  if mmode == 'full' then stored = mfp .. '|' .. encoded elseif mmode == 'pending' then stored = '' end
  call('SET', mkey, stored, 'PX', mttl)
end
local out = {0, encoded}
for k = 1, #extra do out[k + 2] = extra[k] end
return out
