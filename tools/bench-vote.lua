-- wrk script for tools/bench P1: every request casts a vote for a new
-- voter (ids "p1-<tag>-<thread>-<n>"), alternating a and b.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tag = args[1] or "x"
  n = 0
end

function request()
  n = n + 1
  local body = string.format('{"vote":"%s","voter_id":"p1-%s-%d-%d"}',
                             n % 2 == 0 and "a" or "b", tag, id, n)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local failed = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format("BENCH requests=%d acked=%d failed=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.requests - e.status, failed,
    latency:percentile(50), latency:percentile(99)))
end
