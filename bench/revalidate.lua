-- GET one fixed path again and again with If-None-Match naming its current ETag (BENCH_ETAG), with the
-- bearer token: every answer should be a 304. Any other status is counted and reported by done() as
-- "Unexpected statuses: N" (wrk itself counts only statuses from 400 up, so a 200 would pass unseen).
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH")
local etag = os.getenv("BENCH_ETAG")
local expect = tonumber(os.getenv("BENCH_EXPECT") or "304")
assert(path and etag, "BENCH_PATH and BENCH_ETAG are needed")

unexpected = 0  -- per thread (wrk runs this script once per thread); done() adds them up
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

request = function()
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token, ["If-None-Match"] = etag})
end

response = function(status, headers, body)
  if status ~= expect then
    unexpected = unexpected + 1
  end
end

done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
  end
  io.write(string.format("Unexpected statuses: %d\n", total))
end
