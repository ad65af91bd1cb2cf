-- paced.lua: wrk script for latency at a set offered load (bench/s4-latency.sh). POSTs
-- $BODY_FILE as JSON; after each response a connection waits an exponentially distributed
-- time with mean CONNS / RATE seconds, so the CONNS connections together offer about RATE
-- requests per second in Poisson-like arrivals (bursts included), instead of wrk's default
-- closed loop, whose latency at saturation is only CONNS / throughput (Little's law).
-- The rate reached is what wrk reports (it is lower by the requests' own latency).
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local mean_ms = 1000 * tonumber((assert(os.getenv("CONNS"), "CONNS not set"))) /
    tonumber((assert(os.getenv("RATE"), "RATE not set")))

function init(args)
    math.randomseed(tonumber(os.getenv("SEED") or "1"))
end

function delay()
    return math.floor(-mean_ms * math.log(1 - math.random()) + 0.5)
end
