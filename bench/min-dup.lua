-- min-dup.lua: NOT the gateway's script. The Redis work that decide.lua does for one duplicate alert
-- (HGETALL the record, HSET its 9 fields back, PEXPIREAT), with nothing else: the floor that a slimmer
-- duplicate path could reach. Takes decide.lua's ARGV (so redis-benchmark can send the same arguments):
-- prefix, now_ms, dedup_ttl_ms, ... n=1, callers, then fingerprint ... ref (ARGV[15] .. ARGV[21]).
local k = ARGV[1] .. 'd:' .. ARGV[15]
local now = tonumber(ARGV[2])
local h = redis.call('HGETALL', k)
local t = {}
for i = 1, #h, 2 do t[h[i]] = h[i + 1] end
local n = (tonumber(t.n) or 0) + 1
local x = now + tonumber(ARGV[3])
redis.call('HSET', k, 's', 'c', 'ref', t.ref or ARGV[20], 'n', n, 'f', t.f or now, 'l', now, 'x', x,
    'lease', t.lease or 0, 'le', t.le or 0, 'rf', t.rf or 0)
redis.call('PEXPIREAT', k, x)
return {{4, n, tonumber(t.f) or now, now, tonumber(t.lease) or 0, t.ref or '', '', 0, {}}}
