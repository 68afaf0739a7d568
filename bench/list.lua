-- GET a random page (1..PAGES) of a list path, with the bearer token; wrk calls request() per request.
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH") or "/movies?per_page=20&page="
local pages = tonumber(os.getenv("BENCH_PAGES") or "500")
local ids = tonumber(os.getenv("BENCH_IDS") or "0")
math.randomseed(os.time())

request = function()
  local target
  if string.find(path, "{id}", 1, true) then
    target = string.gsub(path, "{id}", tostring(math.random(1, ids)))
  else
    target = path .. math.random(1, pages)
  end
  return wrk.format("GET", target, {["Authorization"] = "Bearer " .. token})
end
