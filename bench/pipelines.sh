#!/usr/bin/env bash
# Parse + plan benchmark of the pipeline language (in-process; no server). Prints one JSON document and
# saves it under bench/results/. Knob: ITERATIONS=200 (timed iterations per case, after a warm-up).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export BENCH_ITERATIONS="${ITERATIONS:-200}"
dotnet build "$HERE/BuildServer.Bench.Pipelines" -c Release -v quiet -nologo >&2
mkdir -p "$HERE/results"
out="$HERE/results/pipelines-$(date -u +%Y%m%dT%H%M%SZ).json"
dotnet "$HERE/BuildServer.Bench.Pipelines/bin/Release/net10.0/buildserver-bench-pipelines.dll" | tee "$out"
