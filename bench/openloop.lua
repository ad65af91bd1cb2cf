-- openloop.lua: wrk script for latency at a set offered load, measured from the SCHEDULED send
-- time (open loop, corrected for coordinated omission; what wrk2 does, and wrk2 is not
-- packaged for Debian 12). bench/s4-latency.sh uses it when MODE=open.
--
-- Arrivals are one Poisson stream of RATE requests/s shared by all connections: a connection
-- that is ready takes the next scheduled instant and waits until it (wrk's delay(), whole
-- milliseconds). When every connection is busy, scheduled instants pass unsent; the request
-- that finally takes one is sent late, and its latency still counts from the instant it was
-- due: the queue in front of a slow server is measured instead of hidden (in wrk's own
-- latency, and in paced.lua's think-time loop, a stalled server also slows the clients down).
-- Where the connection was ready in time, the latency counts from the send itself, so the
-- timer's millisecond granularity is not charged to the server.
--
-- The start instant travels in the X-Request-ID header (microseconds, CLOCK_MONOTONIC); the
-- gateway echoes X-Request-ID, and response() subtracts it from the clock at the response.
-- A response without the header (a server that does not echo it) is counted as "unmatched"
-- and makes the run invalid (s4-latency.sh checks). done() prints:
--   open-loop: scheduled <n> sent <n> responses <n> unmatched <n> late <n> non2xx <n>
--   open-loop latency us: p50 <v> p90 <v> p99 <v> p999 <v> max <v>
-- Latencies are kept in a histogram of 10 µs buckets (exact enough for a p99 of milliseconds).
-- wrk does not say which connection calls request(), so the instants taken by delay() are
-- handed out first in, first out; connections whose timers fire in the same loop iteration
-- may swap instants, which moves a latency by at most the gap between them (well under a
-- millisecond at these rates) and leaves their sum unchanged.
-- Run with -t1 (one schedule; s4-latency.sh does). Env: BODY_FILE, RATE, SEED, and for a
-- BODY_FILE ending in .tmpl (new alerts every time, as paced.lua) RUN_ID.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } sgw_timespec;
int clock_gettime(int clk, sgw_timespec *ts);
]]
local ts = ffi.new("sgw_timespec")
local function now_us()
    ffi.C.clock_gettime(1, ts)   -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local path = assert(os.getenv("BODY_FILE"), "BODY_FILE not set")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()
local template = path:sub(-5) == ".tmpl" and body or nil
local run = os.getenv("RUN_ID") or tostring(os.time())
local rate = tonumber((assert(os.getenv("RATE"), "RATE not set")))
local mean_gap_us = 1000000 / rate

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

-- per thread (wrk gives each thread its own copy of this state)
local next_due        -- the next scheduled instant, µs
local slots, head, tail = {}, 1, 0   -- scheduled instants taken by delay(), FIFO
hist, scheduled, sent, responses, unmatched, late, non2xx = {}, 0, 0, 0, 0, 0, 0

function init(args)
    math.randomseed(tonumber(os.getenv("SEED") or "1"))
end

local function gap() return -mean_gap_us * math.log(1 - math.random()) end

function delay()
    local now = now_us()
    if not next_due then next_due = now + gap() end
    local due = next_due
    next_due = due + gap()
    scheduled = scheduled + 1
    tail = tail + 1
    -- ready before its instant: count from the send; already late: from the instant
    slots[tail] = due >= now and -1 or due
    if due < now then late = late + 1 end
    local ms = math.floor((due - now) / 1000)
    return ms > 0 and ms or 0
end

-- a fixed body: the request is formatted once, around the header's value (the load generator
-- shares a CPU with Redis: every microsecond it spends is taken from the system under test)
local pre, post
if not template then
    wrk.headers["X-Request-ID"] = "@ID@"
    local whole = wrk.format(nil, nil, nil, body)
    local at = assert(string.find(whole, "@ID@", 1, true))
    pre, post = string.sub(whole, 1, at - 1), string.sub(whole, at + 4)
end

-- a template: cut at its placeholders once, joined with each request's id (as unique.lua)
local pieces = {}
if template then
    local at = 1
    while true do
        local i, j = string.find(template, "__POD__", at, true)
        if not i then break end
        pieces[#pieces + 1] = string.sub(template, at, i - 1)
        at = j + 1
    end
    pieces[#pieces + 1] = string.sub(template, at)
end

local n = 0
function request()
    local start = -1
    if head <= tail then
        start = slots[head]
        slots[head] = nil
        head = head + 1
    end
    if start < 0 then start = now_us() end
    sent = sent + 1
    local id = string.format("%d", start)
    if pre then return pre .. id .. post end
    n = n + 1
    wrk.headers["X-Request-ID"] = id
    return wrk.format(nil, nil, nil, table.concat(pieces, run .. "-" .. n))
end

function response(status, headers, _)
    local now = now_us()
    responses = responses + 1
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
    local id = tonumber(headers["X-Request-ID"] or headers["x-request-id"] or "")
    if not id then
        unmatched = unmatched + 1
        return
    end
    local b = math.floor((now - id) / 10)
    hist[b] = (hist[b] or 0) + 1
end

function done(_, _, _)
    local all, total = {}, 0
    local c = {scheduled = 0, sent = 0, responses = 0, unmatched = 0, late = 0, non2xx = 0}
    for _, t in ipairs(threads) do
        for k in pairs(c) do c[k] = c[k] + (t:get(k) or 0) end
        for b, cnt in pairs(t:get("hist") or {}) do
            all[b] = (all[b] or 0) + cnt
            total = total + cnt
        end
    end
    local keys = {}
    for b in pairs(all) do keys[#keys + 1] = b end
    table.sort(keys)
    local function pct(p)
        local want, acc = math.ceil(total * p), 0
        for _, b in ipairs(keys) do
            acc = acc + all[b]
            if acc >= want then return b * 10 + 10 end
        end
        return 0
    end
    io.write(string.format("open-loop: scheduled %d sent %d responses %d unmatched %d late %d non2xx %d\n",
        c.scheduled, c.sent, c.responses, c.unmatched, c.late, c.non2xx))
    io.write(string.format("open-loop latency us: p50 %d p90 %d p99 %d p999 %d max %d\n",
        pct(0.50), pct(0.90), pct(0.99), pct(0.999), total > 0 and keys[#keys] * 10 + 10 or 0))
end
