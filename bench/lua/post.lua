-- One wrk script for every benchmark's POSTs, configured through BENCH_* variables:
--   BENCH_KIND        otp-request | grant-pairs | static
--   BENCH_PATH        request path
--   BENCH_RATE        total requests per second (0 = as fast as possible)
--   BENCH_LIMIT       total requests, after which the threads stop (0 = run for -d)
--   BENCH_THREADS     wrk's -t (to split the rate, the limit and the data per thread)
--   BENCH_CLIENT_ID   ClientID / client_id
--   BENCH_USER_FORMAT username format (e.g. user%07d), BENCH_USER_START/_COUNT: range
--   BENCH_PAIRS_FILE  "username secret" lines (grant-pairs), one request per line
--   BENCH_BODY        the body (static), BENCH_CONTENT_TYPE its type
-- done() prints one JSON line: counts, duration, statuses and latency percentiles (us).
-- "sent" counts requests built: past a limit, the other connections' requests already in
-- flight reach the server, though wrk reads no answer for them (the last one built may
-- never be written, so it is an upper bound).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local function env(name, default)
  local value = os.getenv(name)
  if value == nil or value == "" then return default end
  return value
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local kind, path, content_type, client_id
local per_thread_limit, interval, next_slot
local user_format, user_start, user_count, user_index
local pairs_list, pair_index, static_body
local sent, answered, statuses, nthreads, first_sent

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  nthreads = tonumber(env("BENCH_THREADS", "1"))
  kind = env("BENCH_KIND", "static")
  path = env("BENCH_PATH", "/")
  client_id = env("BENCH_CLIENT_ID", "")
  local rate = tonumber(env("BENCH_RATE", "0"))
  local limit = tonumber(env("BENCH_LIMIT", "0"))
  per_thread_limit = 0
  if limit > 0 then
    per_thread_limit = math.floor(limit / nthreads)
    if id < limit % nthreads then per_thread_limit = per_thread_limit + 1 end
  end
  interval = 0
  if rate > 0 then interval = nthreads / rate end
  next_slot = now()
  user_format = env("BENCH_USER_FORMAT", "user%07d")
  user_start = tonumber(env("BENCH_USER_START", "1"))
  user_count = tonumber(env("BENCH_USER_COUNT", "1"))
  user_index = id
  sent, answered, statuses = 0, 0, {}
  if kind == "grant-pairs" then
    pairs_list, pair_index = {}, 0
    local n = 0
    for line in io.lines(env("BENCH_PAIRS_FILE", "")) do
      if n % nthreads == id then
        local username, secret = line:match("^(%S+) (%S+)$")
        table.insert(pairs_list, "client_id=" .. urlencode(client_id) ..
          "&grant_type=password&username=" .. urlencode(username) ..
          "&password=" .. urlencode(secret))
      end
      n = n + 1
    end
    if per_thread_limit == 0 or per_thread_limit > #pairs_list then
      per_thread_limit = #pairs_list
    end
    content_type = "application/x-www-form-urlencoded"
  elseif kind == "otp-request" then
    content_type = "application/json"
  else
    static_body = env("BENCH_BODY", "{}")
    content_type = env("BENCH_CONTENT_TYPE", "application/json")
  end
  wrk.headers["Content-Type"] = content_type
end

function delay()
  if interval == 0 then return 0 end
  local t = now()
  -- An absolute schedule keeps the rate; a stall is not made up by a burst of > 100 ms.
  if next_slot < t - 0.1 then next_slot = t end
  local slot = next_slot
  next_slot = next_slot + interval
  if slot <= t then return 0 end
  return (slot - t) * 1000
end

function request()
  if sent == 0 then
    first_sent = now()
    wrk.thread:set("first_sent", first_sent)
  end
  sent = sent + 1
  local body
  if kind == "otp-request" then
    local username = string.format(user_format, user_start + (user_index % user_count))
    user_index = user_index + nthreads
    body = '{"ClientID":"' .. client_id .. '","Username":"' .. username .. '"}'
  elseif kind == "grant-pairs" then
    pair_index = pair_index + 1
    body = pairs_list[((pair_index - 1) % #pairs_list) + 1]
  else
    body = static_body
  end
  return wrk.format("POST", path, nil, body)
end

function response(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if per_thread_limit > 0 and answered == per_thread_limit then
    -- This thread is done: wrk's main thread still sleeps out -d, so tell the harness
    -- (which interrupts wrk once every thread said so) and keep the real span.
    wrk.thread:set("statuses", statuses)
    wrk.thread:set("sent", sent)
    wrk.thread:set("last_answer", now())
    io.write("BENCH_THREAD_DONE\n")
    io.flush()
    wrk.thread:stop()
  end
  if answered % 64 == 0 then
    wrk.thread:set("statuses", statuses)
    wrk.thread:set("sent", sent)
  end
end

function done(summary, latency, requests)
  local merged = {}
  local span_from, span_to, sent_total = nil, nil, 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + (thread:get("sent") or 0)
    local from, to = thread:get("first_sent"), thread:get("last_answer")
    if from ~= nil and (span_from == nil or from < span_from) then span_from = from end
    if to ~= nil and (span_to == nil or to > span_to) then span_to = to end
    local counts = thread:get("statuses") or {}
    for status, count in pairs(counts) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%s":%d', status, count))
  end
  local span_us = 0
  if span_from ~= nil and span_to ~= nil then span_us = (span_to - span_from) * 1e6 end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"sent":%d,"duration_us":%d,"span_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},' ..
    '"statuses_sampled":{%s}}\n',
    summary.requests, sent_total, summary.duration, span_us, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), table.concat(parts, ",")))
end
