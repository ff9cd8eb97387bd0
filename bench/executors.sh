#!/usr/bin/env bash
# Executors benchmark (issue 7): per executor, the job overhead through the whole server (trigger → first command,
# and trigger → run finished for a one-step `true` job) against the bare operation measured in the same run,
# interleaved: `docker run --rm --network none local/busybox:1 ...` for docker, and the same QEMU microvm launched by
# hand (MICROVM.md's recipe: the command on the kernel command line, an ext4 job disk) for microvm.
# Prints one JSON document (progress on stderr) and saves it under bench/results/. See bench/README.md, "Executors".
#
# Knobs (environment):
#   EXECUTORS=docker,microvm
#   RUNS=10          measured iterations per executor (each: a first-command job, a `true` job, two bare launches)
#   WARMUP=2         iterations dropped first
#   WARM_VMS=1       the microVM executor's VMs booted ahead of jobs (Executors:MicroVm:WarmVms; 0 = boot per job)
#   KEEP=0           1 = keep the temp folder (server data, dockerd log)
#   NO_BUILD=0       1 = skip the build
#   OUT=             where to write the JSON (default bench/results/executors-<time>.json)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
for tool in dockerd docker qemu-system-x86_64 mke2fs busybox python3; do
  command -v "$tool" >/dev/null || { echo "bench/executors.sh: $tool is missing (bash tools/test.sh installs what is needed)" >&2; exit 1; }
done
if [ "${NO_BUILD:-0}" != "1" ]; then
  dotnet build "$REPO/BuildServer" -c Release -v quiet -nologo >&2
fi
WORK="$(mktemp -d /tmp/bsexec.XXXXXX)"
DOCKERD_PID=""
cleanup() {
  [ -n "$DOCKERD_PID" ] && kill "$DOCKERD_PID" 2>/dev/null && while kill -0 "$DOCKERD_PID" 2>/dev/null; do sleep 0.1; done
  if [ "${KEEP:-0}" = "1" ]; then echo "kept $WORK" >&2; else
    umount -R "$WORK/docker/exec" 2>/dev/null || true; umount -R "$WORK/docker/data" 2>/dev/null || true; rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
cp -r "$REPO/BuildServer/bin/Release/net10.0" "$WORK/server"

# A private Docker engine without bridges, as ../shared/DOCKER.md, holding local/busybox:1 (imported, no registry).
mkdir -p "$WORK/docker" "$WORK/busybox/bin"
dockerd --bridge=none --iptables=false --ip6tables=false --data-root "$WORK/docker/data" --exec-root "$WORK/docker/exec" \
  --host "unix://$WORK/docker/docker.sock" --pidfile "$WORK/docker/docker.pid" >"$WORK/docker/dockerd.log" 2>&1 </dev/null &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$WORK/docker/docker.sock"
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
cp /bin/busybox "$WORK/busybox/bin/" && chroot "$WORK/busybox" /bin/busybox --install -s /bin
tar -C "$WORK/busybox" -c . | docker import - local/busybox:1 >/dev/null

mkdir -p "$HERE/results"
out="${OUT:-$HERE/results/executors-$(date -u +%Y%m%dT%H%M%SZ).json}"
echo "uptime before: $(uptime)" >&2
WARM_VMS="${WARM_VMS:-1}" python3 "$HERE/executors.py" "$WORK" "${EXECUTORS:-docker,microvm}" "${RUNS:-10}" "${WARMUP:-2}" > "$out"
cat "$out"
echo "uptime after: $(uptime)" >&2
echo "saved $out" >&2
