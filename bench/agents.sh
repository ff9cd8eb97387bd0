#!/usr/bin/env bash
# Remote agents benchmark (issue 6): pickup latency to a real `buildserver agent` over HTTPS beside the built-in agent,
# 2,000 simulated agents long-polling and heartbeating one server, log ingest and tail of a 100 MB log. Prints one JSON
# document, saves it under bench/results/ (progress on stderr) plus one file per phase. See bench/README.md, "Agents".
#
# Knobs (environment):
#   PHASES=pickup,fleet,logs
#   PICKUP_JOBS=100    sequential one-step jobs per agent (built-in and remote, alternating; 5 warm-up each dropped)
#   AGENTS=2000        simulated agents in the fleet phase
#   WINDOW=120         fleet window (s); the burst starts half-way (and may run past the window)
#   BURST=1000         one-step jobs queued during the fleet window (by 4 clients)
#   JOBS_PER_RUN=1     jobs per run in the burst (1: one-job runs as bench/run.sh's burst; up to 100: a matrix)
#   BASELINE=40        fleet baseline: as many clients calling GET /healthz every 10 s for this long (s)
#   HTTP2=0            1 = the fleet talks HTTP/2 (several connections) instead of HTTP/1.1
#   LOG_LINES=1000000  lines of 100 bytes the log job prints (100 MB)
#   TAIL_READS=20      timed GET ...log?tail=1000 reads (after 2 warm-up ones)
#   LOG_POLL_MS=50     how often the logs phase reads the stored log's size and the run while the job runs
#   KEEP=0             1 = keep the servers' data folders (logs of server and agents)
#   NO_BUILD=0         1 = skip the builds
#   OUT=               write the JSON here (default bench/results/agents-sqlite-<phases>-<time>.json, and then also
#                      bench/results/agents-sqlite-<phase>.json per phase)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
for k in PHASES PICKUP_JOBS AGENTS WINDOW BURST JOBS_PER_RUN BASELINE HTTP2 LOG_LINES TAIL_READS LOG_POLL_MS KEEP; do
  v="${!k:-}"
  if [ -n "$v" ]; then export "BENCH_$k=$v"; fi
done
if [ "${NO_BUILD:-0}" != "1" ]; then
  dotnet build "$REPO/BuildServer" -c Release -v quiet -nologo >&2
  dotnet build "$HERE/BuildServer.Bench.Agents" -c Release -v quiet -nologo >&2
fi
# A private copy of the server build (server and agents), so that a concurrent build cannot swap files mid-run.
SERVER_COPY="$(mktemp -d /tmp/bsagents-server.XXXXXX)"
trap 'rm -rf -- "$SERVER_COPY"' EXIT
cp -r "$REPO/BuildServer/bin/Release/net10.0/." "$SERVER_COPY/"
export BENCH_SERVER_DLL="$SERVER_COPY/buildserver.dll"
mkdir -p "$HERE/results"
phases="${PHASES:-pickup,fleet,logs}"
out="${OUT:-$HERE/results/agents-sqlite-${phases//,/-}-$(date -u +%Y%m%dT%H%M%SZ).json}"
echo "uptime before: $(uptime)" >&2
status=0
dotnet "$HERE/BuildServer.Bench.Agents/bin/Release/net10.0/buildserver-bench-agents.dll" > "$out" || status=$?
cat "$out"
# One file per phase as well (bench/results/agents-sqlite-<phase>.json, the latest run of that phase), unless OUT was given.
[ -n "${OUT:-}" ] || python3 - "$out" "$HERE/results" <<'PY' || true
import json, sys
doc = json.load(open(sys.argv[1]))
common = {k: v for k, v in doc.items() if k not in ("pickup", "fleet", "logs")}
for phase in ("pickup", "fleet", "logs"):
    if phase in doc:
        with open(f"{sys.argv[2]}/agents-sqlite-{phase}.json", "w") as f:
            json.dump({**common, phase: doc[phase]}, f, indent=2)
PY
echo "uptime after: $(uptime)" >&2
echo "saved $out" >&2
exit $status
