-- post.lua: wrk script for run.sh. POSTs the Alertmanager webhook named by $BODY_FILE as JSON.
-- With PIPELINE=N (N > 1) each request() sends N requests back to back (HTTP/1.1 pipelining);
-- wrk counts every response. Without it no request() is defined, so wrk reuses one static request.
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local depth = tonumber(os.getenv("PIPELINE") or "1")
if depth > 1 then
   local batch
   init = function(args)
      local r = {}
      for i = 1, depth do r[i] = wrk.format() end
      batch = table.concat(r)
   end
   request = function() return batch end
end
