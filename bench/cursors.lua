-- GET the page after a cursor picked at random from a pool (BENCH_POOL: a file of cursors, one a line,
-- gathered at random depths of the whole list before the run), with the bearer token: a walk by cursor
-- anywhere in the list. BENCH_PATH ends with "cursor=" and carries the per_page the cursors were made for.
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH") or "/movies?per_page=20&cursor="
local pool = {}
for line in io.lines(os.getenv("BENCH_POOL")) do
  if #line > 0 then
    table.insert(pool, line)
  end
end
assert(#pool > 0, "the pool of cursors is empty")
math.randomseed(os.time())

request = function()
  return wrk.format("GET", path .. pool[math.random(1, #pool)], {["Authorization"] = "Bearer " .. token})
end
