#!/usr/bin/env bash
# Web UI benchmark (issue 8): the run page of a 200-job run and the log view of a 100 MB log until interactive in
# Chromium (Playwright), each against the same page of a one-job run / a one-line log in the same run, and the
# server's memory per connected circuit with 50 open log views, and the live log's latency (a line stored by the server
# until it is in an open log view). Prints one JSON document (progress on stderr) and saves
# it under bench/results/. See bench/README.md, "Web UI".
#
# Knobs (environment):
#   RUNS=5       timed opens of each page (after one warm-up), the two kinds alternating
#   LOG_MB=100   the big log's size
#   VIEWS=50     log views open at once for the memory figure
#   LATENCY_LINES=40  lines timed from the server to an open log view
#   LOG_ONLY=0   1 = the log view's figures only (no run page)
#   KEEP=0       1 = keep the server's data folder
#   NO_BUILD=0   1 = skip the builds
#   OUT=         where to write the JSON (default bench/results/ui-<time>.json)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
command -v chromium >/dev/null || { echo "bench/ui.sh: chromium is missing (bash tools/test.sh installs it)" >&2; exit 1; }
for k in RUNS LOG_MB VIEWS LATENCY_LINES LOG_ONLY KEEP; do
  v="${!k:-}"
  if [ -n "$v" ]; then export "BENCH_$k=$v"; fi
done
if [ "${NO_BUILD:-0}" != "1" ]; then
  dotnet build "$REPO/BuildServer" -c Release -v quiet -nologo >&2
  dotnet build "$HERE/BuildServer.Bench.Ui" -c Release -v quiet -nologo >&2
fi
# A private copy of the server build, so that a concurrent build cannot swap files mid-run.
SERVER_COPY="$(mktemp -d /tmp/bsui-server.XXXXXX)"
trap 'rm -rf -- "$SERVER_COPY"' EXIT
cp -r "$REPO/BuildServer/bin/Release/net10.0/." "$SERVER_COPY/"
export BENCH_SERVER_DLL="$SERVER_COPY/buildserver.dll"
mkdir -p "$HERE/results"
out="${OUT:-$HERE/results/ui-$(date -u +%Y%m%dT%H%M%SZ).json}"
echo "uptime before: $(uptime)" >&2
status=0
dotnet "$HERE/BuildServer.Bench.Ui/bin/Release/net10.0/buildserver-bench-ui.dll" > "$out" || status=$?
cat "$out"
echo "uptime after: $(uptime)" >&2
echo "saved $out" >&2
exit $status
