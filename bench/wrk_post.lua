-- bench/wrk_post.lua: wrk script used by bench/run_bench.sh.
--
-- With WRK_BODY_FILE set, every request is a POST carrying that file's bytes as application/json;
-- without it wrk's default GET is sent. When the run ends it prints one machine-readable line:
--   WRK_RESULT requests=N duration_us=N rps=X p50_us=N p99_us=N non2xx=N socket_errors=N
-- (latency percentiles come from wrk's own histogram, in microseconds).

local body_file = os.getenv("WRK_BODY_FILE")
if body_file ~= nil and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
