-- flushed.lua: the writer of a claimed storm window reports back (store.h flushed();
-- memory.c mem_flushed()). If it still holds the flush lease, the lease is released; on
-- success the write time is recorded, and the window is clean again if no alert was
-- folded in since the claim (its count is still the one written).
--
-- ARGV: prefix, now_ms, name, namespace, lease, ok(0/1), count
-- Reply: 1 if the claim was still held, else 0.

local P     = ARGV[1]
local now   = tonumber(ARGV[2])
local key   = ARGV[3] .. '\31' .. ARGV[4]
local lease = tonumber(ARGV[5])
local ok    = ARGV[6] == '1'
local count = tonumber(ARGV[7])

local function istr(v) return string.format('%d', v) end

local wk = P .. 'w:' .. key
local h = redis.call('HMGET', wk, 's', 'fl', 'n', 'x')
if not h[1] or (tonumber(h[4]) or 0) <= now or tonumber(h[2]) ~= lease then return 0 end
redis.call('HSET', wk, 'fl', '0', 'fle', '0')
if ok then
    redis.call('HSET', wk, 'lf', istr(now))
    if tonumber(h[3]) == count then
        redis.call('HSET', wk, 'dirty', '0')
        redis.call('ZREM', P .. 'ws', key)
    end
end
return 1
