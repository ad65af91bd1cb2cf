-- commit.lua: after the sink ran, record the RRs that were created, or release the leases
-- of creations that failed so a retry can create them (store.h commit(); memory.c
-- mem_commit()). Only the lease holder's commit counts: a late commit from a creator
-- whose lease was taken over changes nothing.
--
-- ARGV: prefix, now_ms, dedup_ttl_ms, n,
--       then n groups of 7: fingerprint, name, namespace, verdict, lease, ok(0/1), ref
--       (verdict is CREATE 1, STORM_CREATE 2 or MEMBER 3; name/namespace are the storm key
--       of a STORM_CREATE)
-- Reply: n (the number of items processed).
--
-- Dedup record (P d2:<fp>), if pending under this lease:
--   ok → created with ref, TTL dedup_ttl from now;  not ok → deleted.
-- Storm window (P w:/wr:<name>\x1f<ns>), for STORM_CREATE, if pending under this lease:
--   ok → created with ref, last flush = now;        not ok → deleted (the next storm
--   alert opens a new window).

local P         = ARGV[1]
local now       = tonumber(ARGV[2])
local dedup_ttl = tonumber(ARGV[3])
local n         = tonumber(ARGV[4])

local STORM_CREATE = 2

local function istr(v) return string.format('%d', v) end

-- the dedup record's string, as decide.lua writes it: "<s><x: 13 digits><l: 13 digits>|n|f|lease|le|rf|ref",
-- and its Redis expiry, x rounded down to the second plus two (decide.lua kx())
local REC_PATTERN = '^([pcr])(%d%d%d%d%d%d%d%d%d%d%d%d%d)(%d%d%d%d%d%d%d%d%d%d%d%d%d)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(.*)$'
local REC_FORMAT = '%s%013d%013d|%d|%d|%d|%d|%d|%s'
local function kx(x) return (x - x % 1000) + 2000 end
local MAX_T = 9999999999999   -- the largest time 13 digits hold (decide.lua MAX_T)

-- A pending record is always decide.lua's of this version (P d2:); one an older replica
-- created at d1: is committed by that replica.
local function commit_record(fp, lease, ok, ref)
    local k = P .. 'd2:' .. fp
    local v = redis.call('GET', k)
    if not v then return end
    local s, x, l, n, f, rlease, le, rf = string.match(v, REC_PATTERN)
    if s ~= 'p' or tonumber(rlease) ~= lease then return end
    -- past its lease and its TTL the record no longer exists (memory.c rec_expired)
    le, x = tonumber(le), tonumber(x)
    if le + 1 <= now and x <= now then return end
    if ok then
        x = now + dedup_ttl
        redis.call('SET', k, string.format(REC_FORMAT, 'c', x, tonumber(l), tonumber(n), tonumber(f),
            lease, le, tonumber(rf), ref), 'PXAT', istr(kx(x)))
    else
        redis.call('DEL', k, P .. 'd1:' .. fp)   -- and the previous form's (decide.lua): it must not come back
    end
end

local function commit_window(key, lease, ok, ref)
    local wk = P .. 'w:' .. key
    local h = redis.call('HMGET', wk, 's', 'lease', 'x')
    if h[1] ~= 'p' or tonumber(h[2]) ~= lease or (tonumber(h[3]) or 0) <= now then return end
    if ok then
        redis.call('HSET', wk, 's', 'c', 'ref', ref, 'lf', istr(now))   -- keeps its TTL
    else
        redis.call('DEL', wk, P .. 'wr:' .. key)
    end
end

-- a record's times are 13 digits; checked before anything is written
if not now or now < 0 or now + dedup_ttl > MAX_T then error('commit: now_ms + TTL outside 0..' .. MAX_T) end

for i = 1, n do
    local b = 4 + (i - 1) * 7
    local fp, name, ns = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
    local verdict, lease = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])
    local ok, ref = ARGV[b + 6] == '1', ARGV[b + 7]
    commit_record(fp, lease, ok, ref)
    if verdict == STORM_CREATE then commit_window(name .. '\31' .. ns, lease, ok, ref) end
end
return n
