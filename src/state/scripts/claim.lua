-- claim.lua: claim up to max storm windows whose aggregated RR is due for an update, each
-- for one writer (store.h claim_flush(); memory.c claim_one()).
--
-- ARGV: prefix, now_ms, update_interval_ms, lease_ms, max
-- Reply: array of claimed windows, each
--   {name, namespace, ref, count, last_seen_ms, type, start_ms, lease, resources}
--   (the caller hashes "<name>:<namespace>:<start_ms>" into the storm hash)
--
-- A window is due when it is created, dirty (its count moved since the RR was written),
-- not claimed under a live flush lease, and its last write is update_interval old. A claim
-- takes a flush lease (fl, fle = now + lease_ms); flushed.lua releases it.
-- The dirty set (P ws, scored by when the window became dirty, oldest first) is scanned
-- whole; entries whose window is gone (expired, or no longer dirty) are removed here.

local P        = ARGV[1]
local now      = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local lease_ms = tonumber(ARGV[4])
local max      = tonumber(ARGV[5])

local function istr(v) return string.format('%d', v) end

local function hash_of(h)
    local t = {}
    for k = 1, #h, 2 do t[h[k]] = h[k + 1] end
    return t
end

-- "<name>\x1f<namespace>": a namespace never holds \x1f, so split at the last one
local function split_key(key)
    local at = nil
    local s = 1
    while true do
        local p = string.find(key, '\31', s, true)
        if not p then break end
        at, s = p, p + 1
    end
    if not at then return key, '' end
    return string.sub(key, 1, at - 1), string.sub(key, at + 1)
end

local ws = P .. 'ws'
local lease = nil
local out = {}
for _, key in ipairs(redis.call('ZRANGE', ws, 0, -1)) do
    local wk, wrk = P .. 'w:' .. key, P .. 'wr:' .. key
    local w = hash_of(redis.call('HGETALL', wk))
    local x = tonumber(w.x) or 0
    if not w.s or x <= now or w.dirty ~= '1' then
        redis.call('ZREM', ws, key)                  -- window gone or clean: trim
        if w.s and x <= now then redis.call('DEL', wk, wrk) end
    elseif #out < max and w.s == 'c'
        and not ((tonumber(w.fl) or 0) ~= 0 and (tonumber(w.fle) or 0) > now)
        and (tonumber(w.lf) or 0) + interval <= now then
        lease = lease or redis.call('INCR', P .. 'lease')
        redis.call('HSET', wk, 'fl', istr(lease), 'fle', istr(now + lease_ms))
        local name, ns = split_key(key)
        out[#out + 1] = {name, ns, w.ref or '', tonumber(w.n) or 0, tonumber(w.ls) or 0,
                         w.type or '', tonumber(w.start) or 0, lease,
                         redis.call('LRANGE', wrk, 0, -1)}
    end
end
return out
