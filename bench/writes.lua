-- A write mix: POST actor, PATCH movie, cast, uncast (each a quarter), with the bearer token.
local token = os.getenv("BENCH_TOKEN")
local movies = tonumber(os.getenv("BENCH_IDS") or "1000")
local actors = math.floor(movies / 2)
local counter = 0
math.randomseed(os.time())

request = function()
  counter = counter + 1
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  local kind = counter % 4
  local movie = math.random(1, movies)
  if kind == 0 then
    return wrk.format("POST", "/actors", headers, '{"name": "Bench Actor", "age": 40, "gender": "female"}')
  elseif kind == 1 then
    return wrk.format("PATCH", "/movies/" .. movie, headers, '{"title": "Bench Title ' .. counter .. '"}')
  elseif kind == 2 then
    return wrk.format("PUT", "/movies/" .. movie .. "/actors/" .. math.random(1, actors), {["Authorization"] = headers["Authorization"]})
  else
    return wrk.format("DELETE", "/movies/" .. movie .. "/actors/" .. math.random(1, actors), {["Authorization"] = headers["Authorization"]})
  end
end
