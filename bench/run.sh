#!/usr/bin/env bash
# BuildServer benchmark (loopback only): builds the server (Release) and the bench, runs the bench, prints
# one JSON document on stdout and saves it under bench/results/. Progress goes to stderr.
# Same definitions as the Buildbot peer's bench (shared/peers/buildbot/README.md); see bench/README.md.
#
# Knobs (environment; each also as BENCH_<NAME>, or as an argument --name value passed to the bench):
#   BURST=1000        runs submitted at once in the throughput burst (one step: true)
#   LAT_RUNS=30       single runs, one at a time, for pickup latency (+2 warm-up runs dropped)
#   LAT_GAP=0.3       idle pause between latency runs (s)
#   LAT_WARMUP=2      latency runs dropped first (the peer drops 2; .NET tiers up its JIT over ~30 calls)
#   CONCURRENCY=4     parallel HTTP submitters in the burst (one keep-alive connection each)
#   SLOTS=4           built-in agent slots (--Agent:Slots)
#   STARTS=5          timed starts on an existing database, per build (dll; publish/buildserver if present)
#   PHASES=baseline,startup,latency,burst
#   MAIN=dll          the build the latency and burst phases drive: dll (dotnet buildserver.dll) or single_file
#   WAIT_IDLE=30      wait up to this many s for the machine to be <10% busy (other load skews everything)
#   RETRY_NOISY=1     re-measure a latency/burst phase that was noisy, this many times; the quietest counts
#   BENCH_POSTGRES=   e.g. Host=127.0.0.1;Port=5433;Username=postgres;Database=bench_x (a FRESH, empty
#                     database); unset = SQLite in the temp data folder
#   BENCH_POSTGRES_PID= the postmaster's PID (head -1 $PGDATA/postmaster.pid): its CPU and its backends'
#                     count as the system under test instead of as foreign load in the noise check
#   BUILDBOT_JSON=    a result of shared/peers/buildbot/run.sh, embedded side by side
#   KEEP=0            1 = keep the temp folder (/tmp/bsbench-*: server logs, database)
#   REV=              a git revision (e.g. HEAD) to measure instead of the working tree: exported with
#                     `git archive` into a temp folder and built there, so uncommitted work in progress
#                     (yours or another engineer's) cannot end up in the figures
#   NO_BUILD=0        1 = skip the two dotnet builds
#   OUT=              write the JSON here (default bench/results/buildserver-<db>-<time>.json)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
log() { echo "[run.sh $(date +%H:%M:%S)] $*" >&2; }

for k in MAIN BURST LAT_RUNS LAT_GAP LAT_WARMUP CONCURRENCY SLOTS STARTS PHASES WAIT_IDLE RETRY_NOISY KEEP BASELINE_RUNS BURST_TIMEOUT; do
  v="${!k:-}"
  b="BENCH_$k"
  if [ -n "$v" ] && [ -z "${!b:-}" ]; then export "$b=$v"; fi
done
[ -n "${BUILDBOT_JSON:-}" ] && export BENCH_BUILDBOT_JSON="$BUILDBOT_JSON"
export BENCH_REPO="$REPO"
KEEP="${BENCH_KEEP:-0}"

PIDFILE="$(mktemp /tmp/bsbench-pids.XXXXXX)"
OUTTMP="$(mktemp /tmp/bsbench-out.XXXXXX)"
export BENCH_PIDFILE="$PIDFILE"
BPID=""

cleanup() {
  # Safety net: the bench stops what it started; if it was killed hard, stop each server PID it recorded,
  # only if that PID still runs with the recorded data folder on its command line (by PID, never by name).
  trap '' INT TERM
  local kind pid dir pids=()
  while read -r kind pid dir; do
    [ "$kind" = pid ] || continue
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"; then
      log "cleanup: stopping leftover server pid $pid"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done < "$PIDFILE"
  for _ in $(seq 1 100); do
    local left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
  if [ "$KEEP" != "1" ]; then
    while read -r kind dir _; do
      [ "$kind" = dir ] && [[ "$dir" == /tmp/bsbench-* ]] && [ -d "$dir" ] && rm -rf -- "$dir"
    done < "$PIDFILE"
  fi
  rm -f -- "$PIDFILE" "$OUTTMP"
}
on_signal() { if [ -n "$BPID" ]; then kill -TERM "$BPID" 2>/dev/null || true; else exit 130; fi; }
trap cleanup EXIT
trap on_signal INT TERM

SERVER_SRC="$REPO"
if [ -n "${REV:-}" ]; then
  SERVER_SRC="$(mktemp -d /tmp/bsbench-src.XXXXXX)"
  echo "dir $SERVER_SRC" >> "$PIDFILE"
  git -C "$REPO" archive "$REV" | tar -x -C "$SERVER_SRC"
  GIT_REV="$(git -C "$REPO" rev-parse --short "$REV")"
  export BENCH_GIT="$GIT_REV (git archive, clean)"
  export BENCH_GIT_DIRTY=""
else
  GIT_REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  # uncommitted paths other than the bench's own files: they are part of what gets measured
  BENCH_GIT_DIRTY="$(git -C "$REPO" status --porcelain 2>/dev/null | grep -v -e ' bench/' -e ' docs/performance.md' | awk '{print $2}' | tr '\n' ' ' || true)"
  export BENCH_GIT_DIRTY
  export BENCH_GIT="$GIT_REV (working tree, $(echo "$BENCH_GIT_DIRTY" | wc -w | tr -d ' ') other uncommitted paths)"
fi
if [ "${NO_BUILD:-0}" != "1" ] || [ -n "${REV:-}" ]; then
  log "building the server (Release) from $SERVER_SRC"
  (cd "$SERVER_SRC" && dotnet build BuildServer -c Release -nologo -v q) >&2
  log "building the bench"
  dotnet build "$HERE/BuildServer.Bench/BuildServer.Bench.csproj" -c Release -nologo -v q >&2
fi
BENCH_DLL="$HERE/BuildServer.Bench/bin/Release/net10.0/buildserver-bench.dll"

# Run a private copy of the builds: another engineer's build or publish may replace the files mid-run.
SNAP="$(mktemp -d /tmp/bsbench-server.XXXXXX)"
echo "dir $SNAP" >> "$PIDFILE"
if [ -z "${BENCH_SERVER_DLL:-}" ]; then
  cp -a "$SERVER_SRC/BuildServer/bin/Release/net10.0" "$SNAP/dll"
  export BENCH_SERVER_DLL="$SNAP/dll/buildserver.dll"
fi
if [ -z "${BENCH_SINGLE_FILE:-}" ]; then
  if [ -x "$REPO/publish/buildserver" ]; then
    cp -a "$REPO/publish" "$SNAP/publish"
    export BENCH_SINGLE_FILE="$SNAP/publish/buildserver"
    export BENCH_BUILD_INFO="publish/buildserver of $(date -r "$REPO/publish/buildserver" '+%Y-%m-%d %H:%M:%S')"
  else
    export BENCH_SINGLE_FILE="$REPO/publish/buildserver"   # absent: the bench reports it skipped
  fi
fi

log "running the bench (git $BENCH_GIT)"
set +e
dotnet "$BENCH_DLL" "$@" > "$OUTTMP" &
BPID=$!
while :; do
  wait "$BPID"; rc=$?
  kill -0 "$BPID" 2>/dev/null || break
done
set -e
[ $rc -eq 0 ] || log "the bench exited $rc"
if [ -s "$OUTTMP" ]; then
  DB="$(grep -m1 '"db"' "$OUTTMP" | sed 's/.*: *"\([a-z]*\)".*/\1/')"
  OUT="${OUT:-$HERE/results/buildserver-${DB:-x}-$(date +%Y%m%d-%H%M%S).json}"
  mkdir -p "$(dirname "$OUT")"
  cp "$OUTTMP" "$OUT"
  log "saved $OUT"
  cat "$OUTTMP"
fi
exit $rc
