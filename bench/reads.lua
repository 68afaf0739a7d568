-- A read-heavy mix: nine requests in ten read (a random list page of 1..PAGES or a random movie, half each) as
-- a reader (BENCH_READER_TOKEN), one in ten changes a movie's title as a writer (BENCH_TOKEN): readers who
-- wrote nothing may be answered by a follower at once, the writer's reads wait for its writes to be replayed.
local token = os.getenv("BENCH_READER_TOKEN")
local writer = os.getenv("BENCH_TOKEN")
local movies = tonumber(os.getenv("BENCH_IDS") or "10000")
local pages = tonumber(os.getenv("BENCH_PAGES") or "500")
local counter = 0
math.randomseed(os.time())

request = function()
  counter = counter + 1
  local kind = counter % 10
  if kind == 9 then
    local json = {["Authorization"] = "Bearer " .. writer, ["Content-Type"] = "application/json"}
    return wrk.format("PATCH", "/movies/" .. math.random(1, movies), json, '{"title": "Read Mix ' .. counter .. '"}')
  end
  local auth = {["Authorization"] = "Bearer " .. token}
  if kind % 2 == 0 then
    return wrk.format("GET", "/movies?per_page=20&page=" .. math.random(1, pages), auth)
  end
  return wrk.format("GET", "/movies/" .. math.random(1, movies), auth)
end
