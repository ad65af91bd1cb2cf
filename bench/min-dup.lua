-- min-dup.lua: NOT the gateway's script. The Redis work that decide.lua does for one duplicate alert
-- (GET the record string, SET it back with count + 1 and its new expiry, PXAT), with nothing else: the
-- floor that a slimmer duplicate path could reach. Takes decide.lua's ARGV (so redis-benchmark can send
-- the same arguments): prefix, now_ms, dedup_ttl_ms, ... n=1, callers, then fingerprint and meta
-- (ARGV[15], ARGV[16]). Replies as decide.lua's fast path does: the new record.
local k = ARGV[1] .. 'd1:' .. ARGV[15]
local v = redis.call('GET', k) or 'c|0|0|0|0|0|0|0|'
local cnt, first, rest = string.match(v, '^c|(%d+)|(%d+)|%d+|%d+()')
local x = string.format('%d', tonumber(ARGV[2]) + tonumber(ARGV[3]))
v = 'c|' .. string.format('%d', cnt + 1) .. '|' .. first .. '|' .. ARGV[2] .. '|' .. x .. string.sub(v, rest)
redis.call('SET', k, v, 'PXAT', x)
return {v}
