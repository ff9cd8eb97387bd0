#!/usr/bin/env bash
# Scheduling decision, claim, fairness and Hangfire-hop benchmark (issue 5). Prints one JSON document and saves it under
# bench/results/ (progress on stderr). See bench/README.md, "Scheduler".
#
# Knobs (environment):
#   PHASES=decision,claim_sqlite,claim_postgres,fairness,hop
#   QUEUED=100000     attempts waiting in the in-memory decision bench
#   ORGS=1000         organisations (both decision and claim; the claim bench queues 100 jobs per organisation)
#   ITERATIONS=20000  timed decisions per agent (after 5000 warm-up ones)
#   CLAIMS=1000       timed claims per database (after 100 warm-up ones)
#   DURATION=120      fairness window on the real server (s)
#   HOP_SAMPLES=200   hop: timed enqueue samples per series (after 10 warm-up ones), each beside a dispatch-signal one
#   HOP_SCHEDULED=100 hop: scheduled jobs per storage (due HOP_DELAY s ahead, 200-600 ms apart)
#   HOP_DELAY=2       hop: the schedule delay (s)
#   BENCH_POSTGRES=   a PostgreSQL server to use (a new database is created in it); unset = a throw-away
#                     cluster (initdb/pg_ctl on 127.0.0.1, a free port), stopped and removed afterwards
#   BENCH_POSTGRES_PID= that server's postmaster PID: its CPU counts as the system under test
#   NO_BUILD=0        1 = skip the builds
#   OUT=              write the JSON here (default bench/results/scheduler-<time>.json)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
for k in PHASES QUEUED ORGS ITERATIONS CLAIMS DURATION HOP_SAMPLES HOP_SCHEDULED HOP_DELAY; do
  v="${!k:-}"
  if [ -n "$v" ]; then export "BENCH_$k=$v"; fi
done
if [ "${NO_BUILD:-0}" != "1" ]; then
  dotnet build "$REPO/BuildServer" -c Release -v quiet -nologo >&2
  dotnet build "$HERE/BuildServer.Bench.Scheduler" -c Release -v quiet -nologo >&2
fi
# The fairness phase runs a private copy of the server build, so that a concurrent build cannot swap files mid-run.
SERVER_COPY="$(mktemp -d /tmp/bssched-server.XXXXXX)"
trap 'rm -rf -- "$SERVER_COPY"' EXIT
cp -r "$REPO/BuildServer/bin/Release/net10.0/." "$SERVER_COPY/"
export BENCH_SERVER_DLL="$SERVER_COPY/buildserver.dll"
mkdir -p "$HERE/results"
out="${OUT:-$HERE/results/scheduler-$(date -u +%Y%m%dT%H%M%SZ).json}"
echo "uptime before: $(uptime)" >&2
dotnet "$HERE/BuildServer.Bench.Scheduler/bin/Release/net10.0/buildserver-bench-scheduler.dll" | tee "$out"
echo "uptime after: $(uptime)" >&2
echo "saved $out" >&2
