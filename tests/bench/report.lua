-- wrk script of tests/bench/run. The bearer token comes from the
-- environment (BENCH_TOKEN), never from the command line, where any local
-- user could read it in ps. done() prints one line the runner parses;
-- wrk's own --latency table is printed above it for the log.
-- errors.status counts answers with a status of 400 or more (wrk's
-- "Non-2xx or 3xx responses"); none of the routes measured redirects.
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end
wrk.headers["Accept"] = "application/json"

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
        summary.requests, summary.duration,
        latency:percentile(50), latency:percentile(99),
        e.status, e.connect + e.read + e.write + e.timeout))
end
