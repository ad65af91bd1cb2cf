-- min-dup.lua: NOT the gateway's script. The Redis work that decide.lua does for one duplicate alert
-- (GET the record string, SET it back with count + 1 and its new expiry, PXAT), with nothing else: the
-- floor that a slimmer duplicate path could reach. Takes decide.lua's ARGV (so redis-benchmark can send
-- the same arguments): prefix, now_ms, dedup_ttl_ms, ... n=1, callers, repeats, then fingerprint
-- and meta (ARGV[16], ARGV[17]). Replies as decide.lua's fast path does: the new record.
local k = ARGV[1] .. 'd2:' .. ARGV[16]
local v = redis.call('GET', k) or 'c00000000000000000000000000|0|0|0|0|0|'
local bar = string.find(v, '|', 29, true)
local x = tonumber(ARGV[2]) + tonumber(ARGV[3])
v = string.format('c%013d%013d|%d', x, tonumber(ARGV[2]), string.sub(v, 29, bar - 1) + 1) .. string.sub(v, bar)
redis.call('SET', k, v, 'PXAT', string.format('%d', x))
return {v}
