-- paced.lua: wrk script for latency at a set offered load (bench/s4-latency.sh). POSTs
-- $BODY_FILE as JSON; after each response a connection waits an exponentially distributed
-- time with mean CONNS / RATE seconds, so the CONNS connections together offer about RATE
-- requests per second in Poisson-like arrivals (bursts included), instead of wrk's default
-- closed loop, whose latency at saturation is only CONNS / throughput (Little's law).
-- The rate reached is what wrk reports (it is lower by the requests' own latency).
-- A BODY_FILE ending in .tmpl is a template (as for unique.lua): every request gets its own
-- copy with __POD__ replaced by "<RUN_ID>-<counter>", i.e. new alerts every time.
local path = assert(os.getenv("BODY_FILE"), "BODY_FILE not set")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

if path:sub(-5) == ".tmpl" then
    local template, run, n = wrk.body, os.getenv("RUN_ID") or tostring(os.time()), 0
    function request()
        n = n + 1
        return wrk.format(nil, nil, nil, (string.gsub(template, "__POD__", run .. "-" .. n)))
    end
end

local mean_ms = 1000 * tonumber((assert(os.getenv("CONNS"), "CONNS not set"))) /
    tonumber((assert(os.getenv("RATE"), "RATE not set")))

function init(args)
    math.randomseed(tonumber(os.getenv("SEED") or "1"))
end

function delay()
    return math.floor(-mean_ms * math.log(1 - math.random()) + 0.5)
end
