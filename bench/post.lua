-- wrk script: POST the body in the file named by BENCH_BODY; with BENCH_PATHS, one path per
-- request from that file (each thread takes its own slice); each BENCH_VARY marker in the body
-- becomes a number unique to the request; with BENCH_DELAY_MS, each connection waits that long
-- after an answer before its next request (a paced load, well below what the server can do);
-- prints a JSON summary at the end.
local body_file = os.getenv("BENCH_BODY")
local paths_file = os.getenv("BENCH_PATHS")
local vary = os.getenv("BENCH_VARY")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
local body = nil
local head, tail = nil, nil
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb")); body = f:read("*a"); f:close()
end
if body and vary and vary ~= "" then
  local at = body:find(vary, 1, true)
  if at then head, tail = body:sub(1, at - 1), body:sub(at + #vary) end
end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '""'

local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local paths = nil
local index = 0
function init(args)
  if paths_file and paths_file ~= "" then
    paths = {}
    local n = 0
    for line in io.lines(paths_file) do
      n = n + 1
      if n % tonumber(os.getenv("BENCH_THREADS") or "1") == (id - 1) then
        table.insert(paths, line)
      end
    end
  end
end

function request()
  if paths then
    index = index + 1
    if index > #paths then index = 1 end
    return wrk.format("POST", paths[index], nil, "")
  end
  if head then
    index = index + 1
    return wrk.format(nil, nil, nil, head .. id .. "-" .. index .. tail)
  end
  return wrk.format(nil, nil, nil, body)
end

if pause then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, "errors": %d, "non2xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors, summary.errors.status))
end
