-- unique.lua: wrk script that POSTs a different body on every request. The body is BODY_FILE with every
-- PLACEHOLDER (default __POD__) replaced by "<RUN_ID>-<thread>-<counter>", so each request carries a new
-- pod (a new signal fingerprint) or a new object name. HEADERS: optional "Name: value|Name: value".
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE not set"), "rb"))
local template = f:read("*a")
f:close()
local placeholder = os.getenv("PLACEHOLDER") or "__POD__"
local run = os.getenv("RUN_ID") or tostring(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
for h in string.gmatch(os.getenv("HEADERS") or "", "[^|]+") do
   local k, v = string.match(h, "^%s*([^:]+):%s*(.*)$")
   if k then wrk.headers[k] = v end
end

local threads = 0
function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

-- the template cut at its placeholders once; a request's body is the pieces joined with its id
-- (one table.concat instead of a gsub over the whole body: the load generator shares CPU 1
-- with Redis, and the gsub of the 17 KB storm template cost ~130 µs per request)
local pieces, at = {}, 1
while true do
   local i, j = string.find(template, placeholder, at, true)
   if not i then break end
   pieces[#pieces + 1] = string.sub(template, at, i - 1)
   at = j + 1
end
pieces[#pieces + 1] = string.sub(template, at)

local n = 0
function request()
   n = n + 1
   local id = string.format("%s-%d-%d", run, tid or 0, n)
   return wrk.format(nil, nil, nil, table.concat(pieces, id))
end
