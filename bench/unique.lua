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

local n = 0
function request()
   n = n + 1
   local id = string.format("%s-%d-%d", run, tid or 0, n)
   local body = string.gsub(template, placeholder, id)
   return wrk.format(nil, nil, nil, body)
end
