-- A write mix: POST actor, PATCH movie, cast, uncast (each a quarter), with the bearer token.
-- The uncast removes a casting made by this run a while before (not the one just sent: with several
-- connections that one may not have been answered yet), so it finds what it removes.
local token = os.getenv("BENCH_TOKEN")
local movies = tonumber(os.getenv("BENCH_IDS") or "1000")
local actors = math.floor(movies / 2)
local counter = 0
local cast = {}  -- castings made by this run, oldest first
local lag = 64   -- uncast only castings at least this many requests old
math.randomseed(os.time())

request = function()
  counter = counter + 1
  local auth = {["Authorization"] = "Bearer " .. token}
  local json = {["Authorization"] = auth["Authorization"], ["Content-Type"] = "application/json"}
  local kind = counter % 4
  local movie = math.random(1, movies)
  if kind == 3 and #cast > 0 and cast[1].at <= counter - lag then
    local pair = table.remove(cast, 1)
    return wrk.format("DELETE", "/movies/" .. pair.movie .. "/actors/" .. pair.actor, auth)
  elseif kind == 0 then
    return wrk.format("POST", "/actors", json, '{"name": "Bench Actor", "age": 40, "gender": "female"}')
  elseif kind == 1 then
    return wrk.format("PATCH", "/movies/" .. movie, json, '{"title": "Bench Title ' .. counter .. '"}')
  else
    local actor = math.random(1, actors)
    table.insert(cast, {movie = movie, actor = actor, at = counter})
    return wrk.format("PUT", "/movies/" .. movie .. "/actors/" .. actor, auth)
  end
end
