-- decide.lua: classify a whole webhook's alerts in ONE atomic step (store.h decide()).
-- Same semantics as src/state/memory.c decide_locked(); key schema in docs/redis-keys.md.
--
-- ARGV: prefix, now_ms, dedup_ttl_ms, lease_ms, storm_enabled(0/1), rate_threshold,
--       rate_window_ms, pattern_threshold, pattern_window_ms, storm_window_ms,
--       storm_flag_ttl_ms, storm_max_resources, n, callers, repeats,
--       then n pairs: fingerprint, meta; meta =
--       "resolved(0/1)|firing_ms|len(name)|len(namespace)|len(resource_id)|" followed by
--       name, namespace, resource_id and ref back to back (two arguments per alert, not
--       seven: Redis makes an object and a Lua string of each argument; item_at() splits
--       meta only for the alerts the generic path decides)
--   callers: the sizes of the parts of the batch that belong to different callers,
--   comma-separated ("3,1,2"; "" = one caller): redis.c sends the decide calls of one
--   event-loop iteration as one script call. A storm group never spans two callers: each
--   caller's alerts of a (name, namespace) are a group of their own, decided in batch order,
--   exactly as separate calls in that order would (a later caller's alerts wait, IN_PROGRESS,
--   behind an earlier caller's pending storm window instead of becoming its MEMBERs, which
--   only the caller holding STORM_CREATE can settle). One difference remains, and it only
--   delays: an alert that an earlier item of the batch is creating or folding into a storm is
--   IN_PROGRESS for every later item (a resolution included: it is recorded on the retry,
--   after the creation), where a separate later call would find a folded alert's record
--   already created and count a DUPLICATE.
--   repeats: "i:m,i:m,..." (1-based items; "" = none): item i stands for m occurrences of
--   the same alert (same fingerprint, same meta) in the batch: redis.c sends an alert that
--   several requests of one iteration carry once, at its first occurrence, when every
--   occurrence of its fingerprint is the same. A duplicate counts all m (its reply carries
--   the count after the last); every other outcome is the first occurrence's, and redis.c
--   gives the others what separate items would have got (decide_reply.c): the same
--   RESOLVED, STALE or IN_PROGRESS, or IN_PROGRESS behind the first's creation.
-- Reply: one flat array: n strings, in input order, then one array per STORM_CREATE item
-- (in input order): the window's resources after the whole batch. Each string is
--   "verdict|count|first_seen_ms|last_seen_ms|lease|storm_start_ms|storm_type|ref"
--   verdict: 1 CREATE 2 STORM_CREATE 3 MEMBER 4 DUPLICATE 5 AGGREGATED 6 IN_PROGRESS
--            7 RESOLVED 8 STALE
--   storm_type: "", "rate" or "pattern"
--   ref (last: it may hold any byte): what memory.c leaves in item->ref: the record's /
--        storm RR's ref for DUPLICATE, AGGREGATED, RESOLVED, STALE ("" = none); the
--        caller's ref echoed otherwise.
--   One string per alert, not an array of nine: hiredis allocates one object per alert
--   instead of ten (docs/decisions/006-redis-path-layers.md).
--   The storm hash is not computed here: the caller hashes "<name>:<ns>:<storm_start_ms>".
--
-- Time is ARGV now_ms only. Every record carries its expiry (x) and is checked against
-- now_ms; Redis TTLs are set with PEXPIREAT at the same instants so nothing outlives it,
-- except the dedup record's: its Redis expiry is x rounded down to the second, plus two
-- seconds (kx() below), so that duplicates within the same second keep it (SET ... KEEPTTL).
-- Pass 1 decides everything the fingerprint's own record decides; pass 2 takes the new
-- alerts grouped by (name, namespace): the group is counted into the storm detectors as
-- a whole, then each alert is created, folded into the storm window, or waits.
--
-- Two ways to run this file, one code path:
--   * as a Redis function (Redis >= 7.0; what the gateway does): redis.c loads it with
--     FUNCTION LOAD, behind a "#!lua name=sgw_<sha>" line and a line that sets SGW_FUNCTION,
--     and calls it with FCALL <SGW_FUNCTION> 0 <ARGV>. The helpers and constants below are
--     then made once per load, not once per call (docs/decisions/003-redis-function.md).
--   * as a script (EVAL/EVALSHA with the same ARGV): the fallback when FUNCTION LOAD is
--     refused (Redis < 7.0, an ACL without it), and what the script tests call.
-- Either way decide(argv) does the work. The per-call state lives in the locals declared
-- next, which begin_call() sets at the start of every call (the helpers reach them as
-- upvalues; Redis runs one function at a time, so nothing else sees them in between).

local A, P, now, dedup_ttl, lease_ms, storm_on_cfg, rate_thr, rate_win, pat_thr, pat_win
local storm_win, flag_ttl, max_res, n, caller_of
local mult   -- item -> occurrences it stands for, where more than one (nil: none)
local ITEM0        = 15                 -- A[14] callers, A[15] repeats; item i's 2 follow A[ITEM0 + 2(i-1)]

local CREATE, STORM_CREATE, MEMBER, DUPLICATE, AGGREGATED, IN_PROGRESS, RESOLVED, STALE =
    1, 2, 3, 4, 5, 6, 7, 8
local KEEP_MS = 60000           -- detector and window keys outlive their window by this

-- The standard functions the per-alert paths call, as upvalues. As a Redis function this
-- file's globals are looked up through the library's environment, whose metatable leads to
-- the real globals: in the fast path alone, its seven `string.` lookups per alert cost ~2 k
-- instructions (docs/decisions/004-record-at-fixed-width.md). The environment holds them
-- only at call time, so begin_call() binds them at the first call.
local s_byte, s_sub, s_find, s_format, s_match, r_call, m_min, tonum, unpk

local function istr(v) return s_format('%d', v) end
local NOW_S

-- A dedup record's Redis expiry: its x rounded down to the second, plus two seconds; so at
-- least x, at most 2 s past it. Every write of a record sets it (PXAT kx(x)) except the
-- fast path's when the record's stored x is in the same second as its new one: that write
-- keeps the key's TTL (KEEPTTL, ~0.4 µs less per SET), which is then still >= the new x.
-- The second is fixed, not derived from the TTL, so replicas with different settings agree.
local function kx(x) return (x - x % 1000) + 2000 end
local DUP_KX_S      -- kx(a duplicate's new expiry)
local DUP_EPOCH_S   -- the first 10 digits of a duplicate's new expiry (13 digits): its second

-- ---- items and replies ---------------------------------------------------------------
-- items[i] / out[i] are built only for alerts the generic path decides; a duplicate of a
-- created record is answered by the fast path (fast_dup) with out_s[i], its reply string.

local items, out, out_s
local META_PATTERN = '^([01])|(%-?%d+)|(%d+)|(%d+)|(%d+)|()'
local function item_at(i)
    local b = ITEM0 + (i - 1) * 2
    local meta = A[b + 2]
    local rs, firing, ln, lns, lres, at = s_match(meta, META_PATTERN)
    ln, lns, lres = tonum(ln), tonum(lns), tonum(lres)   -- once each, not per use
    if not rs or at + ln + lns + lres > #meta + 1 then
        error('decide: malformed item ' .. i)
    end
    local a2, a3 = at + ln, at + ln + lns
    local it = {
        fp = A[b + 1], name = s_sub(meta, at, a2 - 1), ns = s_sub(meta, a2, a3 - 1),
        res = s_sub(meta, a3, a3 + lres - 1), resolved = rs == '1', firing = tonum(firing),
        ref = s_sub(meta, a3 + lres),
    }
    items[i] = it
    -- verdict, count, first, last, lease, ref, storm type, storm start, resources (STORM_CREATE)
    out[i] = {IN_PROGRESS, 0, 0, 0, 0, it.ref, '', 0, false}
    return it, out[i]
end

local function set_counts(o, count, first, last)
    o[2], o[3], o[4] = count, first, last
end

-- ---- the batch lease (one token per call, taken only when something needs it) ---------

local batch_lease
local function get_lease()
    if not batch_lease then batch_lease = redis.call('INCR', P .. 'lease') end
    return batch_lease
end

-- ---- dedup records: read once, changed in Lua, written back at the end ----------------
-- record = {s = 'p'|'c'|'r', ref, n, f, l, x, lease, le, rf}, stored at P d2:<fp> as ONE
-- string "<s><x: 13 digits><l: 13 digits>|n|f|lease|le|rf|ref" (ref last: it may hold
-- anything) with its TTL set by the same SET: a duplicate costs one GET and one SET
-- (docs/redis-keys.md). The expiry and last-seen time come first, at fixed places, so the
-- fast path reads and rewrites them without parsing the record
-- (docs/decisions/004-record-at-fixed-width.md). commit.lua reads and writes the same format.

local recs, rec_dirty, rec_order, rec_keep
-- recs[fp]: a table (parsed), false (absent or deleted), or a string: the record as stored,
-- or as the fast path or a fold wrote it (a written string always expires at now + TTL, its
-- key at DUP_KX_S, or keeps its TTL if rec_keep[fp]); every fingerprint of the batch has
-- one of these after rec_prefetch().
local REC_PATTERN = '^([pcr])(%d%d%d%d%d%d%d%d%d%d%d%d%d)(%d%d%d%d%d%d%d%d%d%d%d%d%d)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(.*)$'
local REC_FORMAT = '%s%013d%013d|%d|%d|%d|%d|%d|%s'
local MAX_T = 9999999999999   -- the largest time 13 digits hold (year 2286)

local function dkey(fp) return P .. 'd2:' .. fp end
local dkeys   -- fp -> its key, for every fingerprint of the batch (rec_prefetch): MGET and SET

-- The previous form, read when a fingerprint has no d2: record, so that a rolling upgrade
-- keeps counts, resolutions and pending leases of records an older replica wrote: P d1:<fp>
-- (the form before decision 004), the string "s|n|f|l|x|lease|le|rf|ref". One MGET for all of a batch's
-- fingerprints without a d2: record (it takes the place of the EXISTS that looked for the
-- form before that, the hash P d:<fp>, no longer read: docs/redis-keys.md). The record
-- continues at d2:; older replicas keep their d1: key until they are gone, and it expires.
local REC_V1_PATTERN = '^(%a)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(.*)$'

-- a record's fields, as matched from either form; false if it did not match (not ours, or
-- damaged: treated as absent, rewritten)
local function rec_table(s, n, f, l, x, lease, le, rf, ref)
    if not s then return false end
    return {
        s = s, ref = ref, n = tonum(n), f = tonum(f), l = tonum(l), x = tonum(x),
        lease = tonum(lease), le = tonum(le), rf = tonum(rf),
    }
end
local function rec_parse_v1(v)
    local s, n, f, l, x, lease, le, rf, ref = s_match(v, REC_V1_PATTERN)
    return rec_table(s, n, f, l, x, lease, le, rf, ref)
end
local function rec_parse(v)
    local s, x, l, n, f, lease, le, rf, ref = s_match(v, REC_PATTERN)
    return rec_table(s, n, f, l, x, lease, le, rf, ref)
end

-- every record the batch names, in one MGET per 500 distinct fingerprints (and, for those
-- without one, one MGET of their d1: keys)
local function rec_prefetch()
    local keys, fps = {}, {}
    for i = 1, n do
        local fp = A[ITEM0 + (i - 1) * 2 + 1]
        if not dkeys[fp] then
            fps[#fps + 1] = fp
            local k = dkey(fp)
            keys[#keys + 1], dkeys[fp] = k, k
        end
    end
    local v1_fps, v1_keys = {}, {}
    for k = 1, #keys, 500 do
        local vals = r_call('MGET', unpk(keys, k, m_min(k + 499, #keys)))
        for j = 1, #vals do
            local fp = fps[k + j - 1]
            if vals[j] then
                recs[fp] = vals[j]
            else
                v1_fps[#v1_fps + 1], v1_keys[#v1_keys + 1] = fp, P .. 'd1:' .. fp
            end
        end
    end
    for k = 1, #v1_keys, 500 do
        local vals = r_call('MGET', unpk(v1_keys, k, m_min(k + 499, #v1_keys)))
        for j = 1, #vals do
            recs[v1_fps[k + j - 1]] = vals[j] and rec_parse_v1(vals[j]) or false
        end
    end
end

local function rec_get(fp)
    local r = recs[fp]
    if type(r) == 'string' then r = rec_parse(r) end
    recs[fp] = r
    return r or nil
end

local function rec_touch(fp)
    if not rec_dirty[fp] then
        rec_dirty[fp] = true
        rec_order[#rec_order + 1] = fp
    end
end

local function rec_put(fp, r) recs[fp] = r; rec_touch(fp) end
local function rec_del(fp) recs[fp] = false; rec_touch(fp) end

local function rec_blank()
    return {s = 'r', ref = '', n = 0, f = 0, l = 0, x = 0, lease = 0, le = 0, rf = 0}
end

-- as memory.c rec_expired(): a pending record lives while its lease or its TTL does
local function rec_expired(r)
    if r.s == 'p' then return r.le + 1 <= now and r.x <= now end
    return r.x <= now
end

-- a pending record owned by lease (new_lease_pending())
local function rec_pending(fp, r, ref, lease)
    r = r or rec_blank()
    r.s, r.ref, r.n, r.f, r.l = 'p', ref, 1, now, now
    r.lease, r.le, r.x = lease, now + lease_ms, now + lease_ms + dedup_ttl
    rec_put(fp, r)
end

local function rec_write_all()
    for _, fp in ipairs(rec_order) do
        local r, k = recs[fp], dkeys[fp]
        if type(r) == 'string' then   -- the fast path's or a fold's
            if rec_keep[fp] then
                r_call('SET', k, r, 'KEEPTTL')
            else
                r_call('SET', k, r, 'PXAT', DUP_KX_S)
            end
        elseif r then
            if r.x < 0 or r.x > MAX_T or r.l < 0 or r.l > MAX_T then
                error('decide: a record time outside 0..' .. MAX_T)
            end
            r_call('SET', k, s_format(REC_FORMAT, r.s, r.x, r.l, r.n, r.f, r.lease, r.le,
                r.rf, r.ref), 'PXAT', istr(kx(r.x)))
        else
            r_call('DEL', k, P .. 'd1:' .. fp)   -- and the previous form's: it must not come back
        end
    end
end

-- ---- storm windows ---------------------------------------------------------------------
-- window = {start, s = 'p'|'c', ref, lease, le, n, ls, type, dirty, lf, fl, fle, x}
-- plus res (list), has (set), added (resources to RPUSH), fresh (a new window)

local WIN_NUM = {'start', 'lease', 'le', 'n', 'ls', 'dirty', 'lf', 'fl', 'fle', 'x'}

local function win_load(key)
    local h = redis.call('HGETALL', P .. 'w:' .. key)
    if #h == 0 then return nil end
    local t = {}
    for k = 1, #h, 2 do t[h[k]] = h[k + 1] end
    local w = {s = t.s or 'c', ref = t.ref or '', type = t.type or ''}
    for _, f in ipairs(WIN_NUM) do w[f] = tonumber(t[f]) or 0 end
    if w.x <= now then return nil end   -- past its expiry: gone (Redis drops it too)
    w.res = redis.call('LRANGE', P .. 'wr:' .. key, 0, -1)
    w.has, w.added = {}, {}
    for _, r in ipairs(w.res) do w.has[r] = true end
    return w
end

local function win_clear(key)
    redis.call('DEL', P .. 'w:' .. key, P .. 'wr:' .. key)
end

local function win_add_resource(w, res)
    if w.has[res] or #w.res >= max_res then return end
    w.has[res] = true
    w.res[#w.res + 1] = res
    w.added[#w.added + 1] = res
end

-- writes a window changed by this batch; its TTL restarts from now
local function win_save(key, w)
    local wk, wrk = P .. 'w:' .. key, P .. 'wr:' .. key
    if w.fresh then win_clear(key) end   -- a dead window's leftovers
    w.x = now + flag_ttl + storm_win + KEEP_MS
    redis.call('HSET', wk, 'start', istr(w.start), 's', w.s, 'ref', w.ref, 'lease', istr(w.lease),
        'le', istr(w.le), 'n', istr(w.n), 'ls', istr(w.ls), 'type', w.type,
        'dirty', istr(w.dirty), 'lf', istr(w.lf), 'fl', istr(w.fl), 'fle', istr(w.fle),
        'x', istr(w.x))
    for k = 1, #w.added, 500 do
        redis.call('RPUSH', wrk, unpack(w.added, k, math.min(k + 499, #w.added)))
    end
    redis.call('PEXPIREAT', wk, istr(w.x))
    redis.call('PEXPIREAT', wrk, istr(w.x))
    if w.dirty == 1 then
        -- the flush scan: score = when the window became dirty; the set lives as long
        -- as the longest-lived dirty window in it
        local ws = P .. 'ws'
        redis.call('ZADD', ws, 'NX', istr(now), key)
        if redis.call('PEXPIRETIME', ws) < w.x then redis.call('PEXPIREAT', ws, istr(w.x)) end
    end
end

-- ---- storm detectors -------------------------------------------------------------------

-- the flag: {until (0 = off), type}
local function flag_get(key)
    local fk = P .. 'f:' .. key
    local t = redis.call('PEXPIRETIME', fk)
    if t < 0 then return 0, '' end
    return t, redis.call('GET', fk) or ''
end

-- Counts the group's arrivals (rate: one member per alert) and resources (pattern: one
-- member per distinct resource, scored by last sighting), trimmed to their windows and to
-- the threshold+1 newest (all that a decision needs, as memory.c's rings). Returns the
-- storm type the detectors see now, or nil.
local function detect(key, idxs)
    local rk, pk = P .. 'r:' .. key, P .. 'p:' .. key
    local lease, now_s = istr(get_lease()), istr(now)
    -- The rate set gets the group's last rate_thr+1 arrivals only: its members are unique
    -- (lease:index) and all score now, so the trim below would keep rate_thr+1 of them and
    -- the count is the same; a listpack ZADD is linear in the set, so 50 at once cost 50^2.
    local ra = {}
    for q = math.max(1, #idxs - rate_thr), #idxs do
        ra[#ra + 1], ra[#ra + 2] = now_s, lease .. ':' .. idxs[q]
    end
    for k = 1, #ra, 1000 do redis.call('ZADD', rk, unpack(ra, k, math.min(k + 999, #ra))) end
    -- The pattern set's members are resources, which may repeat: every one is added, in
    -- chunks of PAT_CHUNK with the set cut back to its pat_thr+1 newest between them (what
    -- the final trim keeps is the same: an element among the pat_thr+1 highest of the whole
    -- is among the highest of every part that holds it; out-of-window members rank lowest).
    local PAT_CHUNK = 8
    for k = 1, #idxs, PAT_CHUNK do
        local pa = {}
        for q = k, math.min(k + PAT_CHUNK - 1, #idxs) do
            pa[#pa + 1], pa[#pa + 2] = now_s, items[idxs[q]].res
        end
        redis.call('ZADD', pk, unpack(pa))
        if k + PAT_CHUNK <= #idxs then redis.call('ZREMRANGEBYRANK', pk, 0, -(pat_thr + 2)) end
    end
    redis.call('ZREMRANGEBYSCORE', rk, '-inf', istr(now - rate_win))
    redis.call('ZREMRANGEBYRANK', rk, 0, -(rate_thr + 2))
    redis.call('ZREMRANGEBYSCORE', pk, '-inf', istr(now - pat_win))
    redis.call('ZREMRANGEBYRANK', pk, 0, -(pat_thr + 2))
    redis.call('PEXPIREAT', rk, istr(now + rate_win + KEEP_MS))
    redis.call('PEXPIREAT', pk, istr(now + pat_win + KEEP_MS))
    if redis.call('ZCARD', rk) > rate_thr then return 'rate' end
    if redis.call('ZCARD', pk) > pat_thr then return 'pattern' end
    return nil
end

-- ---- pass 1: what the fingerprint's own record decides -----------------------------------

-- The fast path: a firing alert whose record is created and live (the steady state of a
-- repeating alert, and of every alert of a storm after its first webhook) is a DUPLICATE.
-- It is decided on the record's string: count + 1, last = now, expiry = now + TTL, the
-- rest copied as it is; the same result as the generic path below (the differential test
-- compares both with memory.c), without parsing nine fields or printing eight numbers:
-- the expiry is read at its fixed place, the count up to the next '|', and the new record
-- is DUP_HEAD ("c<new expiry><now>|"), the count + 1 and the rest. When the stored expiry is
-- in the same second as the new one, the key keeps its TTL (kx() above).
-- Its reply is the new record itself ("c<x><l>|count|first|..."; decide_reply.c reads it).
local DUP_HEAD
local function fast_dup(i)
    local b = ITEM0 + (i - 1) * 2
    if s_byte(A[b + 2], 1) ~= 48 then return false end   -- '0': not resolved
    local fp = A[b + 1]
    local v = recs[fp]
    if type(v) ~= 'string' or s_byte(v, 1) ~= 99 then return false end   -- 'c'
    local x = tonum(s_sub(v, 2, 14))
    local bar = s_find(v, '|', 29, true)
    -- (comparisons written so that NaN, infinities and fractions from a foreign writer fail)
    if not (x and x > now and x <= MAX_T) or s_byte(v, 28) ~= 124 or not bar then return false end
    local cnt = tonum(s_sub(v, 29, bar - 1))
    if not (cnt and cnt >= 0 and cnt < 1e15 and cnt % 1 == 0) then return false end
    if not rec_dirty[fp] and s_sub(v, 2, 11) == DUP_EPOCH_S then rec_keep[fp] = true end
    v = DUP_HEAD .. istr(cnt + (mult and mult[i] or 1)) .. s_sub(v, bar)
    recs[fp], out_s[i] = v, v
    rec_touch(fp)
    return true
end

-- ---- one call ----------------------------------------------------------------------------

-- argv[3..12] as the last call that converted them had them: as a function, the next call
-- with the same strings (every call, until a reload changes the configuration) skips the ten
-- conversions. As a script every call starts afresh, so nothing is kept (AS_FUNCTION).
local params_seen, AS_FUNCTION = {}, false

-- the parameters, the callers' sizes and fresh per-call state
local function begin_call(argv)
    if not s_byte then
        s_byte, s_sub, s_find, s_format, s_match = string.byte, string.sub, string.find, string.format, string.match
        r_call, m_min, tonum, unpk = redis.call, math.min, tonumber, unpack
    end
    A = argv
    P            = argv[1]
    now          = tonumber(argv[2])
    n            = tonumber(argv[13])
    local k = 3
    while k <= 12 and argv[k] == params_seen[k] do k = k + 1 end
    if k <= 12 then
        dedup_ttl    = tonumber(argv[3])
        lease_ms     = tonumber(argv[4])
        storm_on_cfg = argv[5] == '1'
        rate_thr     = tonumber(argv[6])
        rate_win     = tonumber(argv[7])
        pat_thr      = tonumber(argv[8])
        pat_win      = tonumber(argv[9])
        storm_win    = tonumber(argv[10])
        flag_ttl     = tonumber(argv[11])
        max_res      = tonumber(argv[12])
        if AS_FUNCTION then
            for j = 3, 12 do params_seen[j] = argv[j] end
        end
    end
    caller_of = {}
    local i, c = 0, 0
    for size in string.gmatch(argv[14] or '', '%d+') do
        c = c + 1
        for _ = 1, tonumber(size) do
            i = i + 1
            caller_of[i] = c
        end
    end
    for j = i + 1, n do caller_of[j] = c + 1 end   -- the rest (or all, for ""): one more caller
    mult = nil
    for it, m in string.gmatch(argv[15] or '', '(%d+):(%d+)') do
        it, m = tonumber(it), tonumber(m)
        if it < 1 or it > n or m < 1 or m > 4294967295 then error('decide: malformed repeats') end
        mult = mult or {}
        mult[it] = m
    end
    if not now or now < 0 or now + lease_ms + dedup_ttl > MAX_T then
        error('decide: now_ms + lease + TTL outside 0..' .. MAX_T)   -- before anything is written
    end
    NOW_S = istr(now)
    DUP_KX_S = istr(kx(now + dedup_ttl))
    local x13 = string.format('%013d', now + dedup_ttl)
    DUP_EPOCH_S = string.sub(x13, 1, 10)
    DUP_HEAD = 'c' .. x13 .. string.format('%013d', now) .. '|'
    items, out, out_s = {}, {}, {}
    batch_lease = nil
    recs, rec_dirty, rec_order, rec_keep = {}, {}, {}, {}
    dkeys = {}
end

-- pass 2, per group of new alerts (decide() below)
local function create_individually(idxs)
    local lease = get_lease()
    for _, j in ipairs(idxs) do
        local it, o = items[j], out[j]
        rec_pending(it.fp, rec_get(it.fp), it.ref, lease)
        o[1], o[5] = CREATE, lease
        set_counts(o, 1, now, now)
    end
end

local function decide_group(key, idxs)
    local w = win_load(key)
    local flag_until, flag_type = flag_get(key)
    -- window over (its time or its storm ended) and fully written: the next opens anew
    if w and (w.start + storm_win <= now or flag_until <= now) and w.s == 'c' and w.dirty == 0 then
        win_clear(key)
        w = nil
    end
    local pending_other = w ~= nil and w.s == 'p' and w.le > now

    if not pending_other then
        local typ = detect(key, idxs)
        if typ and flag_until <= now then
            flag_until, flag_type = now + flag_ttl, typ
            redis.call('SET', P .. 'f:' .. key, typ, 'PXAT', istr(flag_until))
        end
    end
    if flag_until <= now then return create_individually(idxs) end

    local lease = get_lease()
    local agg_tail   -- a folded alert's reply after its count (the window is created: fixed)
    for _, j in ipairs(idxs) do
        local it, o = items[j], out[j]
        if pending_other then
            o[1] = IN_PROGRESS                       -- another request creates the storm RR
        else
            if w and w.s == 'p' and w.le <= now then
                w.lease, w.le = lease, now + lease_ms   -- its creator died: take it over
                o[1] = STORM_CREATE
            elseif not w then
                w = {start = now, s = 'p', ref = '', lease = lease, le = now + lease_ms, n = 0,
                     ls = 0, type = flag_type, dirty = 0, lf = now, fl = 0, fle = 0, x = 0,
                     res = {}, has = {}, added = {}, fresh = true}
                o[1] = STORM_CREATE
            elseif w.s == 'p' then
                o[1] = MEMBER
            else
                o[1] = AGGREGATED
            end
            w.n, w.ls = w.n + 1, now
            win_add_resource(w, it.res)
            if o[1] == AGGREGATED then
                -- folded: a created record pointing at the storm RR, count 1, seen now,
                -- written as the string itself (a taken-over pending record keeps its lease
                -- fields, as memory.c does); the reply as the generic one, built once per window
                w.dirty = 1
                local r = rec_get(it.fp)
                local mid = r and (istr(r.lease) .. '|' .. istr(r.le) .. '|' .. istr(r.rf)) or '0|0|0'
                recs[it.fp] = DUP_HEAD .. '1|' .. NOW_S .. '|' .. mid .. '|' .. w.ref
                rec_keep[it.fp] = nil
                rec_touch(it.fp)
                agg_tail = agg_tail or ('|' .. NOW_S .. '|' .. NOW_S .. '|0|' .. istr(w.start) .. '|' .. w.type ..
                    '|' .. w.ref)
                out_s[j], out[j] = '5|' .. istr(w.n) .. agg_tail, nil
            else
                rec_pending(it.fp, rec_get(it.fp), it.ref, lease)
                o[5] = lease
                set_counts(o, w.n, now, now)
                o[7], o[8] = w.type, w.start
            end
        end
    end
    if pending_other then return end
    win_save(key, w)
    -- STORM_CREATE carries the window as it stands after the batch; MEMBER its count
    for _, j in ipairs(idxs) do
        local o = out[j]
        if not o then
            -- AGGREGATED: answered already (out_s)
        elseif o[1] == STORM_CREATE then
            o[2] = w.n
            local snap = {}
            for k, r in ipairs(w.res) do snap[k] = r end
            o[9] = snap
        elseif o[1] == MEMBER then
            o[2] = w.n
        end
    end
end

-- the whole decision of one call; its reply
local function decide(argv)
    begin_call(argv)
    rec_prefetch()
    local fresh, fresh_fp = {}, {}
    for i = 1, n do
        if not fast_dup(i) then
            local it, o = item_at(i)
            local r = rec_get(it.fp)
            if r and rec_expired(r) then
                rec_del(it.fp)
                r = nil
            end
            local decided = false
            if it.resolved then
                -- a creation in progress: another request's, or an earlier item's of this batch
                -- (pass 2 makes its pending record; sent apart, this would wait behind it)
                if (r and r.s == 'p' and r.le > now) or fresh_fp[it.fp] then
                    o[1] = IN_PROGRESS                       -- nothing recorded
                else
                    r = r or rec_blank()
                    o[1], o[6] = RESOLVED, r.ref
                    set_counts(o, r.n, r.f, r.l)
                    r.s = 'r'
                    if it.firing > r.rf then r.rf = it.firing end
                    r.x = now + dedup_ttl
                    rec_put(it.fp, r)
                end
                decided = true
            end
            if not decided and r and r.s == 'r' then
                if it.firing == 0 or it.firing <= r.rf then
                    o[1], o[6] = STALE, r.ref
                    decided = true
                else
                    rec_del(it.fp)                           -- a new occurrence
                    r = nil
                end
            end
            if not decided and r and r.s == 'c' then
                r.n, r.l, r.x = r.n + (mult and mult[i] or 1), now, now + dedup_ttl
                rec_put(it.fp, r)
                o[1], o[6] = DUPLICATE, r.ref
                set_counts(o, r.n, r.f, r.l)
                decided = true
            end
            if not decided and r and r.s == 'p' and r.le > now then
                o[1] = IN_PROGRESS                           -- another request is creating it
                decided = true
            end
            if not decided then
                -- absent, or a pending creation whose lease ran out (creator died): take over,
                -- unless the same alert came earlier in this batch (it waits for that one)
                if fresh_fp[it.fp] then
                    o[1] = IN_PROGRESS
                else
                    fresh[i], fresh_fp[it.fp] = true, true
                end
            end
        end
    end

    -- ---- pass 2: new alerts, by storm key (name, namespace), groups in order ---------------

    local groups, group_of = {}, {}
    for i = 1, n do
        if fresh[i] then
            local key = items[i].name .. '\31' .. items[i].ns
            local by_caller = group_of[key]                -- one group per storm key and caller
            if not by_caller then
                by_caller = {}
                group_of[key] = by_caller
            end
            local g = by_caller[caller_of[i]]
            if not g then
                g = {key = key, idxs = {}}
                by_caller[caller_of[i]] = g
                groups[#groups + 1] = g
            end
            g.idxs[#g.idxs + 1] = i
        end
    end

    for _, g in ipairs(groups) do
        if storm_on_cfg then decide_group(g.key, g.idxs) else create_individually(g.idxs) end
    end

    rec_write_all()

    local reply, windows = {}, {}
    for i = 1, n do
        local o = out[i]
        if o then
            -- the ref appended with .., not %s: Lua 5.1's %s stops at a NUL in a short string
            reply[i] = s_format('%d|%d|%d|%d|%d|%d|%s|', o[1], o[2], o[3], o[4], o[5], o[8], o[7]) .. o[6]
            if o[1] == STORM_CREATE then windows[#windows + 1] = o[9] end
        else
            reply[i] = out_s[i]
        end
    end
    for k = 1, #windows do reply[n + k] = windows[k] end
    return reply

end

-- SGW_FUNCTION is set only by the lines redis.c puts before this file for FUNCTION LOAD,
-- where redis.register_function exists; as a script the else branch runs.
if redis.register_function then
    AS_FUNCTION = true
    redis.register_function{function_name = SGW_FUNCTION, callback = function(_, argv) return decide(argv) end}
else
    return decide(ARGV)
end
